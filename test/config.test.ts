import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig } from '../src/config.js'
import { tempDir } from './helper.js'

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
