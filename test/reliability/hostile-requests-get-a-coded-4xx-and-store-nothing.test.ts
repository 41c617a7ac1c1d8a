import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { auth, signedHeaders, testApp } from '../helper.js'

// Complements test/routes/webhook.test.ts (oversize, deep nesting, __proto__, wrong content
// type, .. and absolute paths in write/delete/rename.to and in diff and V4A Add File headers):
// here the inputs it does not send.

type App = Awaited<ReturnType<typeof testApp>>
const native = (operations: unknown[]) => ({ target: 'default', description: 'd', operations })
const stored = async (app: App) => ((await app.store.counts()) as { queued: number }[]).reduce((n, c) => n + c.queued, 0)

async function refuse(app: App, body: string | Buffer, status: number, code: string, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, 'content-type': 'application/json', ...headers }, payload: body })
  assert.equal(res.statusCode, status, `${res.statusCode} ${res.body.slice(0, 300)}`)
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
  assert.equal(res.json().code, code, res.body.slice(0, 300))
  return res
}

describe('hostile bodies', () => {
  it('refuses a body that is not valid UTF-8 (400 MALFORMED_JSON) rather than storing altered text', async () => {
    const app = await testApp()
    const json = Buffer.from(JSON.stringify(native([{ op: 'write', path: 'a.txt', contents: 'XX' }])))
    const at = json.indexOf('XX')
    json[at] = 0xff
    json[at + 1] = 0xfe
    await refuse(app, json, 400, 'MALFORMED_JSON')
    // An overlong encoding of "/" and a lone surrogate half are invalid too.
    for (const bad of [Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])]) {
      await refuse(app, Buffer.concat([Buffer.from('{"target":"default","description":"'), bad, Buffer.from('","operations":[{"op":"delete","path":"a"}]}')]), 400, 'MALFORMED_JSON')
    }
    assert.equal(await stored(app), 0)
  })

  it('refuses a diff larger than the diff limit with a 4xx, not a 5xx', async () => {
    const app = await testApp()
    const lines = Array.from({ length: 120_000 }, (_, i) => `+line ${i} of a very large file\n`).join('')
    const diff = `diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,120000 @@\n${lines}`
    assert.ok(diff.length > 3 * 1024 * 1024 && diff.length < 4 * 1024 * 1024 - 1000)
    await refuse(app, JSON.stringify(native([{ op: 'diff', diff }])), 400, 'VALIDATION_FAILED')
    assert.equal(await stored(app), 0)
  })

  it('treats names of Object.prototype members as unknown: target, check and op kind get a coded 4xx, not a 500', async () => {
    const app = await testApp()
    for (const target of ['constructor', 'toString', 'hasOwnProperty']) {
      await refuse(app, JSON.stringify({ ...native([{ op: 'delete', path: 'a' }]), target }), 422, 'UNKNOWN_TARGET')
      await refuse(app, JSON.stringify({ blockId: 'b', description: 'd', target, version: 1, mutations: [{ path: 'x', contents: 'x' }], postMutationBuild: { shell: [] }, validate: { shell: [] } }), 422, 'UNKNOWN_TARGET')
    }
    await refuse(app, JSON.stringify({ ...native([{ op: 'delete', path: 'a' }]), checks: ['constructor'] }), 422, 'CHECK_NOT_ALLOWED')
    for (const op of ['__proto__', 'constructor', 'toString']) await refuse(app, JSON.stringify(native([{ op, path: 'a' }])), 400, 'VALIDATION_FAILED')
    assert.equal(await stored(app), 0)
  })

  it('refuses an empty body, a JSON scalar, and a charset it cannot read', async () => {
    const app = await testApp()
    await refuse(app, '', 400, 'MALFORMED_JSON')
    await refuse(app, '"just a string"', 400, 'VALIDATION_FAILED')
    await refuse(app, 'null', 400, 'VALIDATION_FAILED')
    await refuse(app, JSON.stringify(native([])), 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'text/plain' })
    assert.equal(await stored(app), 0)
  })
})

describe('path traversal in every path field', () => {
  const EVIL = ['../x', '/etc/passwd', 'a/../../x', '.git/config', 'a/.git/hooks/x', 'a\\..\\..\\x'.replace(/\\/g, '/'), 'a\u0000b']
  const OPS: [string, (p: string) => unknown][] = [
    ['write.path', (p) => ({ op: 'write', path: p, contents: 'x' })],
    ['replace.path', (p) => ({ op: 'replace', path: p, find: 'a', replace: 'b' })],
    ['insert.path', (p) => ({ op: 'insert', path: p, contents: 'x', after: 'a' })],
    ['delete.path', (p) => ({ op: 'delete', path: p })],
    ['rename.from', (p) => ({ op: 'rename', from: p, to: 'ok.txt' })],
    ['rename.to', (p) => ({ op: 'rename', from: 'README.md', to: p })],
    ['diff ---/+++ headers', (p) => ({ op: 'diff', diff: `--- a/${p}\n+++ b/${p}\n@@ -1 +1 @@\n-a\n+b\n` })],
    ['diff rename to header', (p) => ({ op: 'diff', diff: `diff --git a/README.md b/${p}\nsimilarity index 100%\nrename from README.md\nrename to ${p}\n` })],
    ['diff rename from header', (p) => ({ op: 'diff', diff: `diff --git a/${p} b/ok.txt\nsimilarity index 100%\nrename from ${p}\nrename to ok.txt\n` })],
    ['apply_patch Update File', (p) => ({ op: 'apply_patch', patch: `*** Begin Patch\n*** Update File: ${p}\n@@\n-a\n+b\n*** End Patch` })],
    ['apply_patch Delete File', (p) => ({ op: 'apply_patch', patch: `*** Begin Patch\n*** Delete File: ${p}\n*** End Patch` })],
    ['apply_patch Move to', (p) => ({ op: 'apply_patch', patch: `*** Begin Patch\n*** Update File: README.md\n*** Move to: ${p}\n@@\n-# demo\n+# moved\n*** End Patch` })],
  ]
  it('refuses each hostile path in each field with 422 PATH_NOT_ALLOWED, storing nothing', async () => {
    const app = await testApp()
    for (const [field, op] of OPS) {
      for (const p of EVIL) {
        // A NUL cannot appear in a diff line git would read; the JSON string field cases cover it.
        if (p.includes('\u0000') && field.startsWith('diff')) continue
        const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native([op(p)]) })
        assert.ok(res.statusCode === 422 || res.statusCode === 400, `${field} ${JSON.stringify(p)}: ${res.statusCode} ${res.body.slice(0, 200)}`)
        const code = res.json().code
        assert.ok(code === 'PATH_NOT_ALLOWED' || (code === 'PATCH_PARSE_ERROR' && field.startsWith('diff')), `${field} ${JSON.stringify(p)}: ${code}`)
      }
    }
    // Legacy payloads carry paths too.
    for (const p of EVIL) {
      const v1 = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: { id: 'v1', role: 'r', target_file: p, patch: { pattern: 'a', replacement: 'b' } } })
      assert.equal(v1.statusCode, 422, `legacy v1 target_file ${JSON.stringify(p)}: ${v1.body.slice(0, 200)}`)
    }
    assert.equal(await stored(app), 0)
  })
})

describe('replayed and re-signed requests', () => {
  const body = JSON.stringify(native([{ op: 'write', path: 'a.txt', contents: 'a\n' }]))

  it('a replayed signed delivery returns the first record (200) and stores nothing new', async () => {
    const app = await testApp()
    const headers = signedHeaders(body, { id: 'msg_replay' })
    const first = await app.inject({ method: 'POST', url: '/webhook', headers, payload: body })
    assert.equal(first.statusCode, 202)
    const replay = await app.inject({ method: 'POST', url: '/webhook', headers, payload: body })
    assert.equal(replay.statusCode, 200)
    assert.equal(replay.json().id, first.json().id)
    // Re-signed later (a sender's retry): still the same patch.
    const resigned = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(body, { id: 'msg_replay', ts: Math.floor(Date.now() / 1000) + 5 }), payload: body })
    assert.equal(resigned.statusCode, 200)
    assert.equal(resigned.json().id, first.json().id)
    assert.equal(await stored(app), 1)
  })

  it('the same webhook-id re-signed over another body is 409 IDEMPOTENCY_CONFLICT', async () => {
    const app = await testApp()
    assert.equal((await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(body, { id: 'msg_x' }), payload: body })).statusCode, 202)
    const other = body.replace('a\\n', 'evil\\n')
    const res = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(other, { id: 'msg_x' }), payload: other })
    assert.equal(res.statusCode, 409)
    assert.equal(res.json().code, 'IDEMPOTENCY_CONFLICT')
    assert.equal(await stored(app), 1)
  })

  it('a signature replayed onto another webhook-id or timestamp does not verify', async () => {
    const app = await testApp()
    const headers = signedHeaders(body, { id: 'msg_a' })
    for (const changed of [{ 'webhook-id': 'msg_b' }, { 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) }]) {
      const res = await app.inject({ method: 'POST', url: '/webhook', headers: { ...headers, ...changed }, payload: body })
      assert.equal(res.statusCode, 401)
      assert.equal(res.json().code, 'UNAUTHORIZED')
    }
    assert.equal(await stored(app), 0)
  })
})

describe('token checks', () => {
  it('answers 401 (never 500) to tokens of any length or alphabet: comparison is of fixed-length digests', async () => {
    const app = await testApp()
    for (const token of ['x', 'test-token-0123456789abcde', 'test-token-0123456789abcdef0', 't'.repeat(8000), 'ключ-ключ-ключ-ключ', '\u00ff'.repeat(40)]) {
      const res = await app.inject({ method: 'GET', url: '/patches', headers: { authorization: `Bearer ${token}` } })
      assert.equal(res.statusCode, 401, `${token.slice(0, 20)}: ${res.statusCode}`)
    }
    for (const header of ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer\ttest-token-0123456789abcdef extra']) {
      const res = await app.inject({ method: 'GET', url: '/patches', headers: { authorization: header } })
      assert.equal(res.statusCode, 401, `${header}: ${res.statusCode}`)
    }
  })
})
