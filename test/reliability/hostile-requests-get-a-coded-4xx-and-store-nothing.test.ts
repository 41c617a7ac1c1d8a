import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { auth, signedHeaders, testApp, TOKEN } from '../helpers/app.js'
import { bearer, scopedOverrides, TOKENS } from '../helpers/credentials.js'

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

  it('a captured delivery replayed many times at once is accepted once: one 202, the rest 200 with the same id', async () => {
    const app = await testApp()
    const headers = signedHeaders(body, { id: 'msg_burst' })
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'POST', url: '/webhook', headers, payload: body })))
    const codes = answers.map((a) => a.statusCode).sort()
    assert.deepEqual(codes, [200, ...Array(18).fill(200), 202].sort())
    assert.equal(new Set(answers.map((a) => a.json().id)).size, 1)
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

describe('signatures authenticate POST /webhook and nothing else', () => {
  it("a signed request's headers replayed on any other route open nothing: cancel, reads, metrics and /mcp answer 401", async () => {
    const app = await testApp()
    const victim = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native([{ op: 'write', path: 'v.txt', contents: 'v\n' }]) })
    assert.equal(victim.statusCode, 202)
    const id = victim.json().id as string
    // What a signed GET carries: a valid signature over the empty body.
    const captured = signedHeaders('')
    delete (captured as Record<string, string>)['content-type']
    const mcpCall = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'dispatch_patch', arguments: native([{ op: 'delete', path: 'README.md' }]) } })
    const attempts: [string, string, Record<string, string>, string | undefined][] = [
      ['POST', `/patches/${id}/cancel`, captured, undefined],
      ['GET', `/patches/${id}`, captured, undefined],
      ['GET', '/patches', captured, undefined],
      ['GET', `/patches/${id}/events`, captured, undefined],
      ['GET', '/metrics', captured, undefined],
      // Any body under the empty-body signature, and a body properly signed: neither opens /mcp.
      ['POST', '/mcp', { ...captured, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, mcpCall],
      ['POST', '/mcp', { ...signedHeaders(mcpCall), accept: 'application/json, text/event-stream' }, mcpCall],
    ]
    for (const [method, url, headers, payload] of attempts) {
      const res = await app.inject({ method: method as 'GET' | 'POST', url, headers, payload })
      assert.equal(res.statusCode, 401, `${method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`)
      assert.equal(res.json().code, 'UNAUTHORIZED')
    }
    assert.equal((await app.store.get(id))?.status, 'queued', 'the victim was not cancelled')
    assert.equal(await stored(app), 1, 'nothing was dispatched through /mcp')
  })
})

/** A request whose body is sent in part: the answer that comes before the rest, or null after `waitMs`. */
async function answerBeforeBody(port: number, path: string, headers: Record<string, string>, body: Buffer, waitMs = 5000): Promise<{ status: number; body: string } | null> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let text = ''
  socket.on('data', (d) => (text += d))
  socket.on('error', () => {})
  const head = Object.entries({ host: 'localhost', 'content-type': 'application/json', 'content-length': String(body.length), ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n`)
  socket.write(body.subarray(0, 64 * 1024))
  const deadline = Date.now() + waitMs
  try {
    while (Date.now() < deadline) {
      const end = text.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(text)
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) {
        return { status: Number(text.slice(9, 12)), body: text.slice(end + 4, end + 4 + Number(length[1])) }
      }
      await sleep(20)
    }
    return null
  } finally {
    socket.destroy()
  }
}

describe('work before authentication', () => {
  const DEEP = Buffer.from('['.repeat(1_900_000) + ']'.repeat(1_900_000))

  it('answers 401 to a body without valid credentials before the body has even been sent (/webhook and /mcp)', async () => {
    const app = await testApp()
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    for (const path of ['/webhook', '/mcp']) {
      for (const headers of [{}, { authorization: 'Bearer not-the-token-0123456789' }, { authorization: `Token ${randomUUID()}` }] as Record<string, string>[]) {
        const answer = await answerBeforeBody(port, path, headers, DEEP)
        assert.ok(answer, `${path} ${JSON.stringify(headers)}: no answer before the body was complete (it was read first)`)
        assert.equal(answer.status, 401, `${path} ${JSON.stringify(headers)}: ${answer.body}`)
        assert.equal(JSON.parse(answer.body).code, 'UNAUTHORIZED')
      }
    }
  })

  it('answers 403 FORBIDDEN to a valid token without the dispatch right before the body has even been sent', async () => {
    const app = await testApp(scopedOverrides())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    for (const token of [TOKENS.monitor, TOKENS.scraper]) {
      const answer = await answerBeforeBody(port, '/webhook', bearer(token), DEEP)
      assert.ok(answer, `${token}: no answer before the body was complete (it was read first)`)
      assert.equal(answer.status, 403, answer.body)
      assert.equal(JSON.parse(answer.body).code, 'FORBIDDEN')
    }
    assert.equal(await stored(app), 0)
  })

  it('verifies a signature before parsing and checks nesting on the bytes: deep bodies are never parsed, and readiness answers throughout', { timeout: 120_000 }, async () => {
    const app = await testApp()
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    for (let i = 0; (await fetch(`${url}/health/ready`)).status !== 200; i++) {
      assert.ok(i < 200, 'the app never became ready')
      await sleep(50)
    }
    // Every parse of a large text is seen: the real JSON.parse still does the work.
    const parsedSizes: number[] = []
    const parse = JSON.parse
    JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
      if (typeof text === 'string' && text.length > 100_000) parsedSizes.push(text.length)
      return parse(text, reviver)
    }) as typeof JSON.parse
    after(() => void (JSON.parse = parse))

    let polling = true
    const readiness: number[] = []
    const poller = (async () => {
      while (polling) {
        readiness.push((await fetch(`${url}/health/ready`)).status)
        await sleep(50)
      }
    })()
    const body = DEEP.toString()
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body })
    try {
      for (let i = 0; i < 5; i++) {
        const forged = await post('/webhook', signedHeaders(body.replace('[', '{'), { id: `msg_forged_${i}` }))
        assert.equal(forged.status, 401, 'a wrong signature is refused before the depth is even looked at')
        assert.equal(((await forged.json()) as { code: string }).code, 'UNAUTHORIZED')
        for (const [path, headers] of [['/webhook', signedHeaders(body, { id: `msg_deep_${i}` })], ['/webhook', auth], ['/mcp', auth]] as const) {
          const res = await post(path, headers)
          assert.equal(res.status, 400, path)
          assert.equal(((await res.json()) as { code: string }).code, 'JSON_TOO_DEEP')
        }
      }
    } finally {
      polling = false
      await poller
    }
    assert.deepEqual(parsedSizes, [], 'no deep body reached a JSON parse')
    assert.ok(readiness.length > 0)
    assert.deepEqual(readiness.filter((s) => s !== 200), [], `readiness failed ${readiness.filter((s) => s !== 200).length} of ${readiness.length} polls`)
    assert.equal(await stored(app), 0)
  })
})

describe('rate limits count the authenticated credential', () => {
  it('varying the Authorization header does not escape a signed sender\'s limit', async () => {
    const app = await testApp({ limits: { ratePerMinute: 5 } })
    const codes: number[] = []
    for (let i = 0; i < 12; i++) {
      const body = JSON.stringify(native([{ op: 'write', path: `r${i}.txt`, contents: 'r\n' }]))
      const res = await app.inject({ method: 'POST', url: '/webhook', headers: { ...signedHeaders(body), authorization: `Token ${randomUUID()}` }, payload: body })
      codes.push(res.statusCode)
      if (res.statusCode === 429) {
        assert.equal(res.json().code, 'RATE_LIMITED')
        assert.ok(Number(res.headers['retry-after']) > 0)
      }
    }
    assert.deepEqual(codes, [...Array(5).fill(202), ...Array(7).fill(429)])
    assert.equal(await stored(app), 5)
  })

  it('requests that fail authentication are limited per address and never count against a credential', async () => {
    const app = await testApp({ limits: { ratePerMinute: 4, unauthenticatedPerMinute: 3 } })
    const wrong = { ...auth, authorization: 'Bearer not-the-token-0123456789' }
    const patch = native([{ op: 'write', path: 'x.txt', contents: 'x\n' }])
    const codes: number[] = []
    for (let i = 0; i < 3; i++) codes.push((await app.inject({ method: 'POST', url: '/webhook', headers: wrong, payload: patch })).statusCode)
    assert.deepEqual(codes, [401, 401, 401])
    const refused = [
      await app.inject({ method: 'POST', url: '/webhook', headers: wrong, payload: patch }),
      await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders('{}'), payload: JSON.stringify(patch) }),
      await app.inject({ method: 'GET', url: '/patches' }),
    ]
    for (const res of refused) {
      assert.equal(res.statusCode, 429, res.body)
      assert.equal(res.json().code, 'RATE_LIMITED')
      assert.ok(Number(res.headers['retry-after']) > 0)
    }
    // The address is spent, the credential is not: its own limit of 4 is untouched.
    const mine: number[] = []
    for (let i = 0; i < 5; i++) mine.push((await app.inject({ method: 'POST', url: '/webhook', headers: { authorization: `Bearer ${TOKEN}` }, payload: native([{ op: 'write', path: `m${i}.txt`, contents: 'm\n' }]) })).statusCode)
    assert.deepEqual(mine, [202, 202, 202, 202, 429])
    assert.equal(await stored(app), 4)
  })
})

describe('event streams are capped', () => {
  it('per credential (429 TOO_MANY_STREAMS) and in all (503 STREAMS_FULL), with Retry-After; a closed stream frees its slot', async () => {
    const other = 'a-second-token-0123456789'
    const app = await testApp({ apiTokens: [TOKEN, other], limits: { streamsPerPrincipal: 2, streamsTotal: 3 } })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const id = (await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: native([{ op: 'delete', path: 'README.md' }]) })).json().id as string
    const controllers: AbortController[] = []
    after(() => controllers.forEach((c) => c.abort()))
    const open = async (token: string) => {
      const ac = new AbortController()
      controllers.push(ac)
      const res = await fetch(`${url}/patches/${id}/events`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal })
      return { res, ac }
    }
    const refused = async (token: string, status: number, code: string) => {
      const { res } = await open(token)
      assert.equal(res.status, status)
      assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/)
      assert.equal(((await res.json()) as { code: string }).code, code)
      assert.ok(Number(res.headers.get('retry-after')) > 0)
    }
    const first = await open(TOKEN)
    assert.equal(first.res.status, 200)
    assert.equal((await open(TOKEN)).res.status, 200)
    await refused(TOKEN, 429, 'TOO_MANY_STREAMS')
    assert.equal((await open(other)).res.status, 200)
    await refused(other, 503, 'STREAMS_FULL')
    first.ac.abort()
    for (let i = 0; ; i++) {
      const next = await open(other)
      if (next.res.status === 200) break
      await next.res.body?.cancel()
      assert.ok(i < 100, 'the closed stream never gave its slot back')
      await sleep(20)
    }
  })
})

describe('hostile tags', () => {
  // A tag named like a branch or HEAD would make `git log main` in the workspace show the tag;
  // `refs/…` would be read as a full ref name. The door refuses what the runner would.
  it('refuses tags that would shadow a branch or HEAD, full ref names and unsafe characters with 422 INVALID_TAG, storing nothing', async () => {
    const app = await testApp()
    const tags = ['main', 'HEAD', 'FETCH_HEAD', 'ORIG_HEAD', 'MERGE_HEAD', 'CHERRY_PICK_HEAD', 'head', '@', 'refs/heads/main', 'refs/tags/v1', 'v1$x', 'v1`id`', '$(id)', 'a..b', 'x.lock', 'a/.b', 'a@{1}', 'a~1', '-f', 'deadbeef', 'v1.0-3-gabcdef1']
    for (const tag of tags) {
      const res = await refuse(app, JSON.stringify({ ...native([{ op: 'delete', path: 'a' }]), commit: { tag } }), 422, 'INVALID_TAG')
      assert.equal(res.json().errors?.[0]?.pointer, '/commit/tag', tag)
      const legacy = { blockId: `b-${tags.indexOf(tag)}`, description: 'd', target: 'default', version: 1, mutations: [{ path: 'x', contents: 'x' }], postMutationBuild: { shell: [] }, validate: { shell: [] }, final: { git: { tag } } }
      await refuse(app, JSON.stringify(legacy), 422, 'INVALID_TAG')
    }
    assert.equal(await stored(app), 0)
  })
})
