import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { auth, SECRET, signedHeaders, testApp, testConfig } from '../helpers/app.js'

const native = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  target: 'default',
  description: 'add a greeting',
  operations: [{ op: 'write', path: 'hello.txt', contents: 'hi\n' }],
  ...extra,
})

const ALL_OPS = [
  { op: 'write', path: 'a.txt', contents: 'a\n' },
  { op: 'replace', path: 'README.md', find: 'demo', replace: 'Demo', count: 1 },
  { op: 'replace', path: 'README.md', find: '^# (\\w+)', replace: '# $1!', regex: true },
  { op: 'insert', path: 'README.md', contents: '\nmore\n', after: '# Demo!' },
  { op: 'rename', from: 'a.txt', to: 'b.txt' },
  { op: 'delete', path: 'b.txt' },
  { op: 'diff', diff: 'diff --git a/c.txt b/c.txt\nnew file mode 100644\n--- /dev/null\n+++ b/c.txt\n@@ -0,0 +1 @@\n+c\n' },
  { op: 'apply_patch', patch: '*** Begin Patch\n*** Add File: d.txt\n+d\n*** End Patch\n' },
]

async function count(app: Awaited<ReturnType<typeof testApp>>) {
  const res = await app.inject({ method: 'GET', url: '/patches?limit=100', headers: auth })
  return res.json().items.length as number
}

describe('POST /webhook', () => {
  it('accepts a native patch with every operation kind: 202, Location, server id, stored as sent', async () => {
    const app = await testApp()
    const body = native({ id: '../../etc/passwd', operations: ALL_OPS, checks: ['test'], commit: { message: 'm', tag: 'v1' }, metadata: { agent: 'x' } })
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: body })
    assert.equal(res.statusCode, 202, res.body)
    const json = res.json()
    assert.match(json.id, /^[A-Za-z0-9_-]+$/)
    assert.notEqual(json.id, body.id)
    assert.equal(json.status, 'queued')
    assert.equal(json.client_id, '../../etc/passwd')
    assert.equal(res.headers.location, `/patches/${json.id}`)
    assert.deepEqual(json.links, { self: `/patches/${json.id}` })

    const rec = (await app.inject({ method: 'GET', url: res.headers.location!, headers: auth })).json()
    assert.equal(rec.status, 'queued')
    assert.equal(rec.format, 'native')
    assert.deepEqual(rec.patch.operations, ALL_OPS)
    assert.deepEqual(rec.patch.checks, ['test'])
    assert.deepEqual(rec.patch.commit, { message: 'm', tag: 'v1' })
    assert.deepEqual(rec.events.map((e: { status: string }) => e.status), ['queued'])
  })

  it('normalises a legacy v1 payload to a regex replace on the default workspace', async () => {
    const app = await testApp()
    const res = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: auth,
      payload: { id: 'v1-1', role: 'ghost', target_file: 'README.md', patch: { pattern: 'de(mo)', replacement: 'x$1' }, description: 'legacy' },
    })
    assert.equal(res.statusCode, 202, res.body)
    const rec = (await app.inject({ method: 'GET', url: `/patches/${res.json().id}`, headers: auth })).json()
    assert.equal(rec.format, 'legacy_v1')
    assert.equal(rec.target, 'default')
    assert.equal(rec.client_id, 'v1-1')
    assert.deepEqual(rec.patch.operations, [{ op: 'replace', path: 'README.md', find: 'de(mo)', replace: 'x$1', regex: true }])
  })

  it('normalises a legacy v2 payload: mutations to write/insert, allowed shell to check names, absolute paths inside the root', async () => {
    const config = testConfig()
    const root = config.workspaces.default!.path
    const app = await testApp(config)
    const res = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: auth,
      payload: {
        blockId: 'BLK-7',
        description: 'v2 block',
        target: 'default',
        version: '2.1',
        mutations: [
          { path: join(root, 'src/new.ts'), contents: 'export {}\n' },
          { path: 'README.md', contents: 'after\n', insertAfter: '# demo' },
          { path: 'README.md', contents: 'before\n', insertBefore: '# demo' },
        ],
        postMutationBuild: { shell: ['node -e process.exit(0)'] },
        validate: { shell: [] },
        final: { git: { commit: 'v2 commit', tag: 'blk-7' } },
      },
    })
    assert.equal(res.statusCode, 202, res.body)
    const rec = (await app.inject({ method: 'GET', url: `/patches/${res.json().id}`, headers: auth })).json()
    assert.equal(rec.format, 'legacy_v2')
    assert.equal(rec.client_id, 'BLK-7')
    assert.deepEqual(rec.patch.operations, [
      { op: 'write', path: 'src/new.ts', contents: 'export {}\n' },
      { op: 'insert', path: 'README.md', contents: 'after\n', after: '# demo' },
      { op: 'insert', path: 'README.md', contents: 'before\n', before: '# demo' },
    ])
    assert.deepEqual(rec.patch.checks, ['test'])
    assert.deepEqual(rec.patch.commit, { message: 'v2 commit', tag: 'blk-7' })
  })

  const v2 = (shell: string[], path = 'x.txt') => ({
    blockId: 'b', description: 'd', target: 'default', version: 1,
    mutations: [{ path, contents: 'x' }], postMutationBuild: { shell }, validate: { shell: [] },
  })
  const BAD: [string, () => { payload?: unknown; headers?: Record<string, string>; raw?: string }, number, string, string?][] = [
    ['not JSON', () => ({ raw: '{"target":' }), 400, 'MALFORMED_JSON'],
    ['an array', () => ({ payload: [1] }), 400, 'VALIDATION_FAILED'],
    ['empty operations', () => ({ payload: native({ operations: [] }) }), 400, 'VALIDATION_FAILED', '/operations'],
    ['unknown op', () => ({ payload: native({ operations: [{ op: 'chmod', path: 'a' }] }) }), 400, 'VALIDATION_FAILED', '/operations/0/op'],
    ['missing field of an op', () => ({ payload: native({ operations: [{ op: 'write', path: 'a' }] }) }), 400, 'VALIDATION_FAILED', '/operations/0/contents'],
    ['extra field', () => ({ payload: native({ evil: 1 }) }), 400, 'VALIDATION_FAILED'],
    ['wrong type', () => ({ payload: native({ target: 5 }) }), 400, 'VALIDATION_FAILED', '/target'],
    ['too many operations', () => ({ payload: native({ operations: Array.from({ length: 201 }, () => ({ op: 'delete', path: 'a' })) }) }), 400, 'VALIDATION_FAILED', '/operations'],
    ['unknown target', () => ({ payload: native({ target: 'nope' }) }), 422, 'UNKNOWN_TARGET', '/target'],
    ['.. in a path', () => ({ payload: native({ operations: [{ op: 'write', path: '../x', contents: '' }] }) }), 422, 'PATH_NOT_ALLOWED', '/operations/0/path'],
    ['absolute path', () => ({ payload: native({ operations: [{ op: 'delete', path: '/etc/passwd' }] }) }), 422, 'PATH_NOT_ALLOWED', '/operations/0/path'],
    ['absolute legacy path outside the root', () => ({ payload: v2([], '/etc/passwd') }), 422, 'PATH_NOT_ALLOWED', '/mutations/0/path'],
    ['NUL in a path', () => ({ payload: native({ operations: [{ op: 'write', path: 'a\u0000b', contents: '' }] }) }), 422, 'PATH_NOT_ALLOWED'],
    ['.git path', () => ({ payload: native({ operations: [{ op: 'write', path: '.git/hooks/pre-commit', contents: '' }] }) }), 422, 'PATH_NOT_ALLOWED'],
    ['rename into .git', () => ({ payload: native({ operations: [{ op: 'rename', from: 'README.md', to: 'sub/.GIT/config' }] }) }), 422, 'PATH_NOT_ALLOWED', '/operations/0/to'],
    ['traversal in a diff header', () => ({ payload: native({ operations: [{ op: 'diff', diff: 'diff --git a/../x b/../x\n--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n' }] }) }), 422, 'PATH_NOT_ALLOWED'],
    ['traversal in an apply_patch header', () => ({ payload: native({ operations: [{ op: 'apply_patch', patch: '*** Begin Patch\n*** Add File: ../../x\n+x\n*** End Patch' }] }) }), 422, 'PATH_NOT_ALLOWED'],
    ['check not allowed', () => ({ payload: native({ checks: ['deploy'] }) }), 422, 'CHECK_NOT_ALLOWED', '/checks/0'],
    ['shell not allowed', () => ({ payload: v2(['rm -rf / #']) }), 422, 'COMMAND_NOT_ALLOWED', '/postMutationBuild/shell/0'],
    ['regex that fails to compile', () => ({ payload: native({ operations: [{ op: 'replace', path: 'a', find: '(', replace: '', regex: true }] }) }), 422, 'INVALID_REGEX', '/operations/0/find'],
    ['insert with both anchors', () => ({ payload: native({ operations: [{ op: 'insert', path: 'a', contents: 'x', before: 'a', after: 'b' }] }) }), 422, 'INVALID_ANCHOR'],
    ['tag that is not a ref', () => ({ payload: native({ commit: { tag: '-f; rm -rf /' } }) }), 422, 'INVALID_TAG', '/commit/tag'],
    ['tag with a character the runner refuses', () => ({ payload: native({ commit: { tag: 'v1$x' } }) }), 422, 'INVALID_TAG', '/commit/tag'],
    ['tag named like the branch', () => ({ payload: native({ commit: { tag: 'main' } }) }), 422, 'INVALID_TAG', '/commit/tag'],
    ['tag named like HEAD', () => ({ payload: native({ commit: { tag: 'FETCH_HEAD' } }) }), 422, 'INVALID_TAG', '/commit/tag'],
    ['tag that is a full ref name', () => ({ payload: native({ commit: { tag: 'refs/heads/main' } }) }), 422, 'INVALID_TAG', '/commit/tag'],
    ['legacy tag named HEAD', () => ({ payload: { ...v2([]), final: { git: { tag: 'HEAD' } } } }), 422, 'INVALID_TAG', '/final/git/tag'],
    ['wrong content type', () => ({ raw: 'target=default', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['__proto__ key', () => ({ raw: '{"target":"default","__proto__":{"admin":true},"operations":[]}' }), 400, 'FORBIDDEN_KEY'],
    ['constructor.prototype key', () => ({ raw: '{"constructor":{"prototype":{"admin":true}}}' }), 400, 'FORBIDDEN_KEY'],
    ['deep nesting', () => ({ raw: JSON.stringify({ ...native(), metadata: { a: JSON.parse('['.repeat(40) + ']'.repeat(40)) } }) }), 400, 'JSON_TOO_DEEP'],
    ['oversize body', () => ({ raw: JSON.stringify(native({ operations: [{ op: 'write', path: 'a', contents: 'x'.repeat(5 * 1024 * 1024) }] })) }), 413, 'PAYLOAD_TOO_LARGE'],
  ]

  for (const [name, make, status, code, pointer] of BAD) {
    it(`refuses ${name}: ${status} ${code}, nothing stored`, async () => {
      const app = await testApp()
      const { payload, raw, headers } = make()
      const res = await app.inject({
        method: 'POST',
        url: '/webhook',
        headers: { ...auth, 'content-type': 'application/json', ...headers },
        payload: raw ?? JSON.stringify(payload),
      })
      assert.equal(res.statusCode, status, res.body)
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/)
      const problem = res.json()
      assert.equal(problem.code, code)
      assert.equal(problem.status, status)
      if (pointer) assert.ok(problem.errors?.some((e: { pointer: string }) => e.pointer === pointer), JSON.stringify(problem.errors))
      assert.equal(await count(app), 0)
    })
  }

  it('names every failing field at once', async () => {
    const app = await testApp()
    const res = await app.inject({
      method: 'POST', url: '/webhook', headers: auth,
      payload: native({ checks: ['nope'], operations: [{ op: 'write', path: '../a', contents: '' }, { op: 'delete', path: '/b' }] }),
    })
    assert.equal(res.statusCode, 422)
    assert.deepEqual(res.json().errors.map((e: { pointer: string }) => e.pointer).sort(), ['/checks/0', '/operations/0/path', '/operations/1/path'])
  })
})

describe('authentication', () => {
  const body = JSON.stringify(native())

  it('accepts a valid Standard Webhooks signature', async () => {
    const app = await testApp()
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(body), payload: body })
    assert.equal(res.statusCode, 202, res.body)
  })

  const CASES: [string, () => Record<string, string>, string?][] = [
    ['no credentials', () => ({ 'content-type': 'application/json' })],
    ['a wrong token', () => ({ 'content-type': 'application/json', authorization: 'Bearer wrong-token-0123456789' })],
    ['a wrong secret', () => signedHeaders(body, { secret: 'whsec_' + Buffer.from('another secret key').toString('base64') })],
    ['a tampered body', () => signedHeaders(body.replace('hi', 'ho')), body.replace('hi', 'ho').replace('ho', 'hi')],
    ['an old timestamp', () => signedHeaders(body, { ts: Math.floor(Date.now() / 1000) - 301 })],
    ['a future timestamp', () => signedHeaders(body, { ts: Math.floor(Date.now() / 1000) + 301 })],
    ['a missing header', () => { const h = signedHeaders(body); delete (h as Record<string, string>)['webhook-timestamp']; return h }],
  ]
  for (const [name, headers, payload] of CASES) {
    it(`answers 401 to ${name}, nothing stored`, async () => {
      const app = await testApp()
      const res = await app.inject({ method: 'POST', url: '/webhook', headers: headers(), payload: payload ?? body })
      assert.equal(res.statusCode, 401, res.body)
      assert.equal(res.json().code, 'UNAUTHORIZED')
      assert.equal(await count(app), 0)
    })
  }

  it('accepts either secret while two are configured (rotation)', async () => {
    const next = 'whsec_' + Buffer.from('the next secret, 32 bytes long!!').toString('base64')
    const app = await testApp({ webhookSecrets: [SECRET, next] })
    for (const s of [SECRET, next]) {
      const res = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(body, { secret: s }), payload: body })
      assert.equal(res.statusCode, 202, res.body)
    }
  })

  it('requires credentials on the read routes', async () => {
    const app = await testApp()
    for (const [method, url] of [['GET', '/patches'], ['GET', '/patches/pt_x'], ['POST', '/patches/pt_x/cancel']] as const) {
      const res = await app.inject({ method, url })
      assert.equal(res.statusCode, 401, `${method} ${url}`)
    }
  })

  it('accepts unauthenticated requests on loopback only when nothing is configured', async () => {
    const app = await testApp({ apiTokens: [], webhookSecrets: [] })
    const res = await app.inject({ method: 'POST', url: '/webhook', payload: native() })
    assert.equal(res.statusCode, 202)
    await assert.rejects(testApp({ apiTokens: [], webhookSecrets: [], host: '0.0.0.0' }), /refusing to listen/)
  })
})

describe('tags at the door', () => {
  // The door and the runner share one rule (src/runner/tag-name.ts) on the full name, prefix included.
  it('judges the tag with the workspace prefix: "main" is refused bare and accepted as ghost/main', async () => {
    const bare = await testApp()
    const refused = await bare.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ commit: { tag: 'main' } }) })
    assert.equal(refused.statusCode, 422, refused.body)
    assert.match(refused.json().detail, /branch/)
    const config = testConfig()
    config.workspaces.default!.tagPrefix = 'ghost/'
    const prefixed = await testApp(config)
    const ok = await prefixed.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ commit: { tag: 'main' } }) })
    assert.equal(ok.statusCode, 202, ok.body)
    const bad = await prefixed.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ commit: { tag: 'v1$x' } }) })
    assert.equal(bad.statusCode, 422, bad.body)
  })
})

describe('idempotency', () => {
  it('returns the existing record for a repeat and 409 for the same key with another body', async () => {
    const app = await testApp()
    for (const headers of [{ 'idempotency-key': 'k1' }, { 'webhook-id': 'msg_1' }]) {
      const first = await app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, ...headers }, payload: native() })
      assert.equal(first.statusCode, 202)
      const again = await app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, ...headers }, payload: native() })
      assert.equal(again.statusCode, 200)
      assert.equal(again.json().id, first.json().id)
      const other = await app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, ...headers }, payload: native({ description: 'other' }) })
      assert.equal(other.statusCode, 409)
      assert.equal(other.json().code, 'IDEMPOTENCY_CONFLICT')
    }
    const a = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ id: 'client-7' }) })
    const b = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ id: 'client-7' }) })
    assert.equal(a.statusCode, 202)
    assert.equal(b.statusCode, 200)
    assert.equal(b.json().id, a.json().id)
    assert.equal(await count(app), 3)
  })
})

describe('limits', () => {
  it('answers 503 QUEUE_FULL with Retry-After at the queue cap', async () => {
    const app = await testApp({ limits: { queueDepth: 2, ratePerMinute: 1000 } })
    for (let i = 0; i < 2; i++) assert.equal((await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native() })).statusCode, 202)
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native() })
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'QUEUE_FULL')
    assert.ok(Number(res.headers['retry-after']) > 0)
    assert.equal(await count(app), 2)
  })

  it('answers 429 RATE_LIMITED with Retry-After past the per-client rate', async () => {
    const app = await testApp({ limits: { queueDepth: 100, ratePerMinute: 3 } })
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native() })).statusCode)
    assert.deepEqual(codes, [202, 202, 202, 429])
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native() })
    assert.equal(res.json().code, 'RATE_LIMITED')
    assert.ok(Number(res.headers['retry-after']) > 0)
  })
})

describe('patch routes', () => {
  it('gets, lists newest first with a cursor, and cancels', async () => {
    const app = await testApp()
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native({ description: `p${i}` }) })).json().id)
    const page1 = (await app.inject({ method: 'GET', url: '/patches?limit=3', headers: auth })).json()
    assert.deepEqual(page1.items.map((p: { id: string }) => p.id), ids.slice(2).reverse())
    const page2 = (await app.inject({ method: 'GET', url: `/patches?limit=3&cursor=${page1.next_cursor}`, headers: auth })).json()
    assert.deepEqual(page2.items.map((p: { id: string }) => p.id), ids.slice(0, 2).reverse())
    assert.equal(page2.next_cursor, null)

    const cancel = await app.inject({ method: 'POST', url: `/patches/${ids[4]}/cancel`, headers: auth })
    assert.equal(cancel.statusCode, 200)
    assert.equal(cancel.json().status, 'cancelled')
    const again = await app.inject({ method: 'POST', url: `/patches/${ids[4]}/cancel`, headers: auth })
    assert.equal(again.statusCode, 409)
    assert.equal(again.json().code, 'NOT_CANCELLABLE')
    const cancelled = (await app.inject({ method: 'GET', url: '/patches?status=cancelled', headers: auth })).json()
    assert.deepEqual(cancelled.items.map((p: { id: string }) => p.id), [ids[4]])

    const missing = await app.inject({ method: 'GET', url: '/patches/pt_nope', headers: auth })
    assert.equal(missing.statusCode, 404)
    assert.equal(missing.json().code, 'NOT_FOUND')
    const bad = await app.inject({ method: 'GET', url: '/patches/..%2F..%2Fetc', headers: auth })
    assert.equal(bad.statusCode, 400)
  })

  it('answers unknown routes with a problem+json 404', async () => {
    const app = await testApp()
    const res = await app.inject({ method: 'GET', url: '/nope' })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND')
    assert.match(res.headers['content-type'] as string, /application\/problem\+json/)
  })
})
