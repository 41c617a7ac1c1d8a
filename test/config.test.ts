import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, isLoopback, loadConfig } from '../src/config.js'
import { tempDir } from './helpers/app.js'

it('reads defaults, environment, then flags, in rising precedence', () => {
  const c = loadConfig({ GHOST_PORT: '6000', GHOST_HOST: '0.0.0.0', GHOST_API_TOKENS: 'a'.repeat(16) + ', ' + 'b'.repeat(16) }, ['--port', '7000'], '/srv')
  assert.equal(c.port, 7000)
  assert.equal(c.host, '0.0.0.0')
  assert.deepEqual(c.apiTokens, ['a'.repeat(16), 'b'.repeat(16)])
  assert.equal(c.dataDir, '/srv/data')
  assert.equal(c.store, 'sqlite')
  assert.deepEqual(Object.keys(c.workspaces), ['default'])
  assert.equal(c.workspaces.default!.path, '/srv/data/workspaces/default')
  assert.equal(c.metricsPublic, false)
  assert.equal(loadConfig({ GHOST_METRICS_PUBLIC: 'true' }).metricsPublic, true)
})

it('takes the PostgreSQL deadline from GHOST_DATABASE_TIMEOUT_MS or its flag (default 5000 ms)', () => {
  assert.equal(loadConfig({}).databaseTimeoutMs, 5000)
  assert.equal(loadConfig({ GHOST_DATABASE_TIMEOUT_MS: '2500' }).databaseTimeoutMs, 2500)
  assert.equal(loadConfig({ GHOST_DATABASE_TIMEOUT_MS: '2500' }, ['--database-timeout-ms', '800']).databaseTimeoutMs, 800)
})

it('parses GHOST_WORKSPACES and lets a DATABASE_URL select PostgreSQL', () => {
  const c = loadConfig({ GHOST_WORKSPACES: 'MAIN=/repos/main,CYOPS=rel/cyops', DATABASE_URL: 'postgres://u@h/db' }, [], '/srv')
  assert.deepEqual(Object.keys(c.workspaces), ['MAIN', 'CYOPS'])
  assert.equal(c.workspaces.CYOPS!.path, '/srv/rel/cyops')
  assert.equal(c.workspaces.MAIN!.branch, 'main')
  assert.equal(c.store, 'postgres')
  assert.equal(c.databaseSchema, 'ghost_runner')
  assert.equal(loadConfig({ DATABASE_URL: 'postgres://u@h/db', GHOST_DATABASE_SCHEMA: 'staging_ghost' }).databaseSchema, 'staging_ghost')
})

it('reads a YAML config file, which the environment overrides', () => {
  const dir = tempDir()
  const file = join(dir, 'ghost.yaml')
  writeFileSync(file, 'port: 7001\nworkspaces:\n  app:\n    path: /srv/app\n    checks:\n      test: [npm, test]\n')
  const c = loadConfig({ GHOST_CONFIG: file, GHOST_HOST: '127.0.0.2' }, [])
  assert.equal(c.port, 7001)
  assert.equal(c.host, '127.0.0.2')
  assert.deepEqual(c.workspaces.app!.checks, { test: ['npm', 'test'] })
  assert.equal(c.workspaces.app!.checkTimeoutMs, 600_000)
})

const BAD: [Record<string, string>, string[], RegExp][] = [
  [{ GHOST_PORT: 'abc' }, [], /^GHOST_PORT: /],
  [{ GHOST_PORT: '70000' }, [], /^GHOST_PORT: .*65535/],
  [{}, ['--port', '-1'], /^GHOST_PORT: /],
  [{ GHOST_STORE: 'mysql' }, [], /^GHOST_STORE: expected one of sqlite, postgres$/],
  [{ GHOST_STORE: 'postgres' }, [], /^DATABASE_URL: required/],
  [{ GHOST_WEBHOOK_SECRETS: 'not-a-secret' }, [], /^GHOST_WEBHOOK_SECRETS: /],
  [{ GHOST_API_TOKENS: 'short' }, [], /^GHOST_API_TOKENS: /],
  [{ GHOST_WORKSPACES: 'nopath' }, [], /^GHOST_WORKSPACES: /],
  [{ LOG_LEVEL: 'loud' }, [], /^LOG_LEVEL: /],
  [{ GHOST_METRICS_PUBLIC: 'yes' }, [], /^GHOST_METRICS_PUBLIC: /],
  [{ GHOST_DATABASE_SCHEMA: 'Ghost; DROP' }, [], /^GHOST_DATABASE_SCHEMA: /],
  [{ GHOST_DATABASE_TIMEOUT_MS: '50' }, [], /^GHOST_DATABASE_TIMEOUT_MS: /],
  [{}, ['--database-timeout-ms', 'soon'], /^GHOST_DATABASE_TIMEOUT_MS: /],
  [{ GHOST_CONFIG: '/nonexistent/ghost.yaml' }, [], /^GHOST_CONFIG: cannot read/],
]
for (const [env, args, message] of BAD) {
  it(`refuses ${JSON.stringify(env)} ${args.join(' ')} with one line naming the variable`, () => {
    assert.throws(() => loadConfig(env, args), (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'))
  })
}

it('the process stops with exit 1 and one line on stderr for a bad value', () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, GHOST_PORT: 'eighty' },
    encoding: 'utf8',
  })
  assert.equal(res.status, 1)
  assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
  assert.match(res.stderr, /^ghost-runner: GHOST_PORT: /)
})

it('gives each workspace the default sandbox, which a config file can loosen in so many words', () => {
  const dir = tempDir()
  const file = join(dir, 'ghost.yaml')
  writeFileSync(
    file,
    [
      'workspaces:',
      '  app: { path: /srv/app, checks: { test: [npm, test] } }',
      '  install: { path: /srv/install, network: true, env: { CI: "true" }, limits: { cpuSeconds: 60, processes: 512 }, hide: [/etc/app-secrets] }',
      '  legacy: { path: /srv/legacy, sandbox: none }',
    ].join('\n'),
  )
  const c = loadConfig({ GHOST_CONFIG: file }, [], '/srv')
  assert.equal(c.configFile, file, 'the loader records the file, so checks can be kept from it')
  const { app, install, legacy } = c.workspaces
  assert.deepEqual([app!.sandbox, app!.network, app!.env, app!.hide], ['bwrap', false, {}, []])
  assert.deepEqual(app!.limits, { cpuSeconds: 600, memoryMb: 2048, fileSizeMb: 1024, processes: 256, openFiles: 1024 })
  assert.deepEqual([install!.network, install!.env, install!.hide], [true, { CI: 'true' }, ['/etc/app-secrets']])
  assert.deepEqual(install!.limits, { cpuSeconds: 60, memoryMb: 2048, fileSizeMb: 1024, processes: 512, openFiles: 1024 })
  assert.equal(legacy!.sandbox, 'none')
  assert.equal(loadConfig({ GHOST_WORKSPACES: 'a=/srv/a' }).workspaces.a!.sandbox, 'bwrap')
  assert.equal(loadConfig({}).configFile, undefined)
})

for (const [workspace, message] of [
  ['{ path: /srv/app, sandbox: docker }', /^GHOST_CONFIG\.workspaces\.app\.sandbox: /],
  ['{ path: /srv/app, limits: { processes: 0 } }', /^GHOST_CONFIG\.workspaces\.app\.limits\.processes: /],
  ['{ path: /srv/app, limits: { wallSeconds: 5 } }', /^GHOST_CONFIG\.workspaces\.app\.limits/],
  ['{ path: /srv/app, env: { "BAD NAME": x } }', /^GHOST_CONFIG\.workspaces\.app\.env/],
  ['{ path: /srv/app, hide: [relative/path] }', /^GHOST_CONFIG\.workspaces\.app\.hide\.0: /],
] as const) {
  it(`refuses the sandbox settings ${workspace} with one line`, () => {
    const file = join(tempDir(), 'ghost.yaml')
    writeFileSync(file, `workspaces:\n  app: ${workspace}\n`)
    assert.throws(() => loadConfig({ GHOST_CONFIG: file }), (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'))
  })
}

// Without credentials the server listens on loopback only: decided by the parsed address, so a
// name that merely starts like one (127.0.0.1.nip.io resolves wherever its owner likes) is not.
it('counts as loopback only 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost', () => {
  for (const host of ['127.0.0.1.nip.io', '127.evil.example', '127.1', '127.0.0.1 ', '0.0.0.0', '::', '128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', 'localhost.example.com', 'mylocalhost', '', '[::1]']) {
    assert.equal(isLoopback(host), false, JSON.stringify(host))
  }
  for (const host of ['127.0.0.1', '127.255.255.254', '127.0.0.2', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::ffff:7f00:1', 'localhost', 'LOCALHOST']) {
    assert.equal(isLoopback(host), true, host)
  }
})

it('refuses to start without credentials on a name that only looks like loopback', { timeout: 120_000 }, () => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GHOST_') && k !== 'DATABASE_URL')), GHOST_HOST: '127.0.0.1.nip.io', GHOST_PORT: '0', GHOST_DATA_DIR: tempDir() },
    encoding: 'utf8',
    // Only a safety net: on a loaded machine loading the server's modules alone takes seconds.
    timeout: 90_000,
  })
  assert.equal(res.status, 1, res.stdout + res.stderr)
  assert.match(res.stderr, /refusing to listen on 127\.0\.0\.1\.nip\.io without credentials/)
})
