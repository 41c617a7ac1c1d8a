import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { stringify } from 'yaml'
import { ConfigError, loadConfig } from '../../src/config.js'
import { resolveCredentials, tokenDigest } from '../../src/auth/credentials.js'
import { SECRET, TOKEN, tempDir, testApp } from '../helpers/app.js'
import { bearer, DOCS_SECRET, patchFor, scopedOverrides, sha256Hex, TOKENS } from '../helpers/credentials.js'

const AGENT_TOKEN = 'docs-agent-token-0123456789abcdef'
const MONITOR_TOKEN = 'monitor-token-0123456789abcdef'
const OPERATOR_TOKEN = 'operator-token-0123456789abcdef'

/** Loads a YAML config file holding `body` (with workspaces `docs` and `app` unless given). */
function load(body: Record<string, unknown>, env: Record<string, string> = {}) {
  const dir = tempDir()
  const file = join(dir, 'ghost.yaml')
  writeFileSync(file, stringify({ workspaces: { docs: { path: join(dir, 'docs') }, app: { path: join(dir, 'app') } }, ...body }))
  return loadConfig({ GHOST_CONFIG: file, ...env }, [], dir)
}

describe('credentials in the configuration', () => {
  it('reads the README example as written: an agent limited to one workspace, a monitoring token, an operator token, a signing secret', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Credentials'))
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1]
    assert.ok(yaml, 'the Credentials section opens with a YAML example')
    const dir = tempDir()
    const file = join(dir, 'ghost-runner.yaml')
    writeFileSync(file, yaml)
    const { tokens, secrets } = resolveCredentials(loadConfig({ GHOST_CONFIG: file }, [], dir))
    assert.deepEqual(
      tokens.map((t) => t.principal),
      [
        { kind: 'token', id: 'token:1', name: 'docs-agent', workspaces: ['docs'], rights: { dispatch: true, read: 'own', cancel: 'own', metrics: false, admin: false } },
        { kind: 'token', id: 'token:2', name: 'monitoring', workspaces: '*', rights: { dispatch: false, read: 'all', cancel: 'none', metrics: true, admin: false } },
        { kind: 'token', id: 'token:3', name: 'operator', workspaces: '*', rights: { dispatch: true, read: 'all', cancel: 'all', metrics: true, admin: true } },
      ],
    )
    // The digests are those of the example tokens the README names.
    const examples = ['docs-agent-example-token-0001', 'monitoring-example-token-0002', 'operator-example-token-0003']
    assert.deepEqual(tokens.map((t) => t.digest), examples.map(tokenDigest))
    assert.deepEqual(secrets.map((s) => s.principal), [
      { kind: 'signature', id: 'secret:1', name: 'docs-ci', workspaces: ['docs'], rights: { dispatch: true, read: 'none', cancel: 'none', metrics: false, admin: false } },
    ])
  })

  it('takes a token plain or as its digest, in either case of hex', () => {
    const config = load({
      credentials: [
        { name: 'a', token: `sha256:${sha256Hex(AGENT_TOKEN).toUpperCase()}`, workspaces: ['docs'], rights: { dispatch: true } },
        { name: 'b', token: MONITOR_TOKEN, workspaces: '*', rights: { read: 'all' } },
      ],
    })
    assert.deepEqual(resolveCredentials(config).tokens.map((t) => t.digest), [tokenDigest(AGENT_TOKEN), tokenDigest(MONITOR_TOKEN)])
    assert.deepEqual(tokenDigest(`sha256:${sha256Hex(AGENT_TOKEN)}`), tokenDigest(AGENT_TOKEN))
  })

  it('cancel implies read of the same reach, and never narrows it', () => {
    const config = load({
      credentials: [
        { name: 'a', token: 'a'.repeat(16), workspaces: ['docs'], rights: { cancel: 'own' } },
        { name: 'b', token: 'b'.repeat(16), workspaces: ['docs'], rights: { read: 'own', cancel: 'all' } },
        { name: 'c', token: 'c'.repeat(16), workspaces: ['docs'], rights: { read: 'all', cancel: 'own' } },
      ],
    })
    assert.deepEqual(
      resolveCredentials(config).tokens.map((t) => [t.principal.rights.read, t.principal.rights.cancel]),
      [
        ['own', 'own'],
        ['all', 'all'],
        ['all', 'own'],
      ],
    )
  })

  it('GHOST_API_TOKENS and GHOST_WEBHOOK_SECRETS keep every right they had, named token-<n> and secret-<n>, beside the file\'s', () => {
    const config = load(
      { credentials: [{ name: 'operator', token: OPERATOR_TOKEN, rights: { admin: true } }] },
      { GHOST_API_TOKENS: `${'x'.repeat(16)},${'y'.repeat(16)}`, GHOST_WEBHOOK_SECRETS: SECRET },
    )
    const { tokens, secrets } = resolveCredentials(config)
    assert.deepEqual(tokens.map((t) => [t.principal.id, t.principal.name, t.principal.workspaces, t.principal.rights.admin]), [
      ['token:1', 'token-1', '*', true],
      ['token:2', 'token-2', '*', true],
      ['token:3', 'operator', '*', true],
    ])
    assert.deepEqual(secrets.map((s) => [s.principal.id, s.principal.name, s.principal.workspaces, s.principal.rights.dispatch]), [['secret:1', 'secret-1', '*', true]])
  })

  const BAD: [string, Record<string, unknown>, RegExp][] = [
    ['neither token nor secret', { name: 'x', workspaces: ['docs'], rights: { dispatch: true } }, /^GHOST_CONFIG\.credentials\.0: credential "x" needs exactly one of token or secret$/],
    ['both a token and a secret', { name: 'x', token: AGENT_TOKEN, secret: SECRET, workspaces: ['docs'], rights: { dispatch: true } }, /needs exactly one of token or secret/],
    ['no right', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs'], rights: {} }, /^GHOST_CONFIG\.credentials\.0\.rights: credential "x" grants no right$/],
    ['only rights set to false', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs'], rights: { dispatch: false, admin: false } }, /grants no right/],
    ['an unknown right', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs'], rights: { write: true } }, /^GHOST_CONFIG\.credentials\.0\.rights\.write: Unexpected property/],
    ['read: some', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs'], rights: { read: 'some' } }, /^GHOST_CONFIG\.credentials\.0\.rights\.read: expected one of own, all/],
    ['a secret that reads', { name: 'x', secret: SECRET, workspaces: ['docs'], rights: { dispatch: true, read: 'own' } }, /is a webhook secret, which authenticates POST \/webhook only/],
    ['a secret that is admin', { name: 'x', secret: SECRET, rights: { admin: true } }, /is a webhook secret/],
    ['an admin narrowed to workspaces', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs'], rights: { admin: true } }, /^GHOST_CONFIG\.credentials\.0\.workspaces: credential "x" is admin, which covers every workspace/],
    ['dispatch without workspaces', { name: 'x', token: AGENT_TOKEN, rights: { dispatch: true } }, /^GHOST_CONFIG\.credentials\.0\.workspaces: credential "x" needs workspaces/],
    ['read with an empty list', { name: 'x', token: AGENT_TOKEN, workspaces: [], rights: { read: 'all' } }, /needs workspaces/],
    ['a workspace that is not configured', { name: 'x', token: AGENT_TOKEN, workspaces: ['docs', 'payments'], rights: { dispatch: true } }, /^GHOST_CONFIG\.credentials\.0\.workspaces\.1: credential "x" names workspace "payments", which is not configured$/],
    ['a name with a colon', { name: 'a:b', token: AGENT_TOKEN, rights: { metrics: true } }, /^GHOST_CONFIG\.credentials\.0\.name: /],
    ['a short token', { name: 'x', token: 'short', rights: { metrics: true } }, /^GHOST_CONFIG\.credentials\.0\.token: /],
    ['a digest that is not 64 hex digits', { name: 'x', token: `sha256:${'z'.repeat(64)}`, rights: { metrics: true } }, /^GHOST_CONFIG\.credentials\.0\.token: /],
    ['a secret that is not whsec_', { name: 'x', secret: 'not-a-secret-at-all', workspaces: ['docs'], rights: { dispatch: true } }, /^GHOST_CONFIG\.credentials\.0\.secret: /],
  ]
  for (const [what, credential, message] of BAD) {
    it(`refuses ${what} with one line naming the entry, never the value`, () => {
      assert.throws(
        () => load({ credentials: [credential] }),
        (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n') && !err.message.includes(AGENT_TOKEN) && !err.message.includes(SECRET),
      )
    })
  }

  it('refuses one token or one secret configured twice, plain or as its digest, in the file or the environment', () => {
    const twice = (credentials: unknown[], env: Record<string, string> = {}) => () => load({ credentials }, env)
    const check = (message: RegExp) => (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes(AGENT_TOKEN)
    assert.throws(
      twice([
        { name: 'a', token: AGENT_TOKEN, rights: { metrics: true } },
        { name: 'b', token: `sha256:${sha256Hex(AGENT_TOKEN)}`, rights: { metrics: true } },
      ]),
      check(/^GHOST_CONFIG\.credentials\.1\.token: the same value is configured as GHOST_CONFIG\.credentials\.0\.token too$/),
    )
    assert.throws(twice([{ name: 'a', token: AGENT_TOKEN, rights: { metrics: true } }], { GHOST_API_TOKENS: AGENT_TOKEN }), check(/^GHOST_CONFIG\.credentials\.0\.token: the same value is configured as GHOST_API_TOKENS too$/))
    assert.throws(twice([{ name: 'a', secret: SECRET, workspaces: '*', rights: { dispatch: true } }], { GHOST_WEBHOOK_SECRETS: SECRET }), check(/^GHOST_CONFIG\.credentials\.0\.secret: the same value is configured as GHOST_WEBHOOK_SECRETS too$/))
    // A name shared by several credentials is a rotation, not a mistake.
    assert.equal(
      resolveCredentials(
        load({
          credentials: [
            { name: 'a', token: AGENT_TOKEN, workspaces: ['docs'], rights: { dispatch: true } },
            { name: 'a', token: MONITOR_TOKEN, workspaces: ['docs'], rights: { dispatch: true } },
          ],
        }),
      ).tokens.length,
      2,
    )
  })
})

describe('logs', () => {
  it('the startup log lists each credential by name, kind and scope, never its value or digest; accepted and cancelled patches name theirs', async () => {
    const lines: Record<string, unknown>[] = []
    const raw: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(line)
          lines.push(JSON.parse(line))
        }
        done()
      },
    })
    const app = await testApp(scopedOverrides(), { logger: { level: 'info', stream } })
    const loaded = lines.find((l) => l.msg === 'credentials loaded')
    assert.ok(loaded, 'a credentials line at startup')
    assert.deepEqual(loaded.credentials, [
      { name: 'token-1', kind: 'token', workspaces: '*', rights: 'admin' },
      { name: 'operator', kind: 'token', workspaces: '*', rights: 'admin' },
      { name: 'docs-agent', kind: 'token', workspaces: 'docs', rights: 'dispatch, read:own, cancel:own' },
      { name: 'docs-agent', kind: 'token', workspaces: 'docs', rights: 'dispatch, read:own, cancel:own' },
      { name: 'docs-dispatcher', kind: 'token', workspaces: 'docs', rights: 'dispatch' },
      { name: 'docs-lead', kind: 'token', workspaces: 'docs', rights: 'dispatch, read:all, cancel:own' },
      { name: 'monitor', kind: 'token', workspaces: '*', rights: 'read:all' },
      { name: 'default-operator', kind: 'token', workspaces: 'default', rights: 'read:all, cancel:all' },
      { name: 'scraper', kind: 'token', workspaces: '', rights: 'metrics' },
      { name: 'secret-1', kind: 'signature', workspaces: '*', rights: 'dispatch' },
      { name: 'docs-signer', kind: 'signature', workspaces: 'docs', rights: 'dispatch' },
    ])

    const sent = await app.inject({ method: 'POST', url: '/webhook', headers: bearer(TOKENS.docsAgent), payload: patchFor('docs') })
    assert.equal(sent.statusCode, 202, sent.body)
    const id = sent.json().id as string
    assert.equal((await app.inject({ method: 'POST', url: `/patches/${id}/cancel`, headers: bearer(TOKENS.operator) })).statusCode, 200)
    assert.deepEqual(
      lines.filter((l) => l.patch === id && (l.msg === 'patch accepted' || l.msg === 'patch cancelled')).map((l) => [l.msg, l.credential]),
      [
        ['patch accepted', 'docs-agent'],
        ['patch cancelled', 'operator'],
      ],
    )

    const text = raw.join('\n')
    const secretKey = (s: string) => s.slice('whsec_'.length)
    for (const value of [...Object.values(TOKENS), TOKEN, sha256Hex(TOKENS.docsAgentNext), secretKey(SECRET), secretKey(DOCS_SECRET)]) {
      assert.equal(text.includes(value), false, `the log holds ${value.slice(0, 8)}…`)
    }
  })
})
