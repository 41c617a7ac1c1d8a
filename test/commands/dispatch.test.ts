import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PatchResult } from '../../src/schemas/record.js'
import { gitRepo, SECRET, tempDir, TOKEN } from '../helpers/app.js'
import { freePort } from '../helpers/process.js'
import { claimNext, file, runCli, serverWithoutRunner } from './cli-harness.js'

const NATIVE = { target: 'default', description: 'add hello', operations: [{ op: 'write', path: 'hello.txt', contents: 'hi\n' }] }
const DIFF = `diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1 +1 @@
-# demo
+# Demo
diff --git a/notes.txt b/notes.txt
new file mode 100644
--- /dev/null
+++ b/notes.txt
@@ -0,0 +1 @@
+note
`
const V4A = `*** Begin Patch
*** Update File: README.md
@@
-# demo
+# Demo
*** Add File: v4a.txt
+from v4a
*** End Patch
`
const SHA = 'a'.repeat(40)
const result = (extra: Partial<PatchResult> = {}): PatchResult => ({ commit: null, tag: null, files: [], checks: [], durations_ms: {}, ...extra })

const asToken = (url: string) => ({ GHOST_URL: url, GHOST_TOKEN: TOKEN })
const acceptedId = (stdout: string) => /^accepted (\S+) /m.exec(stdout)?.[1] ?? assert.fail(`no id in: ${stdout}`)

describe('ghost-runner dispatch', () => {
  it('sends a native JSON patch and prints its id; --json prints the 202 body', async () => {
    const { app, url } = await serverWithoutRunner()
    const dir = tempDir()
    const run = await runCli(['dispatch', file(dir, 'patch.json', NATIVE)], asToken(url))
    assert.equal(run.code, 0, run.stderr)
    const id = acceptedId(run.stdout)
    assert.match(run.stdout, /\(native → default, queued\)/)
    const record = await app.store.get(id)
    assert.deepEqual(record?.patch.operations, NATIVE.operations)
    assert.equal(record?.description, 'add hello')

    const json = await runCli(['dispatch', '--json', file(dir, 'again.json', { ...NATIVE, description: 'second' })], asToken(url))
    assert.equal(json.code, 0, json.stderr)
    const body = JSON.parse(json.stdout)
    assert.equal(body.status, 'queued')
    assert.deepEqual(body.links, { self: `/patches/${body.id}` })
  })

  it('detects a unified diff by content and wraps it in a diff operation for --target', async () => {
    const workspaces = {
      default: { path: gitRepo(), branch: 'main', checks: {}, checkTimeoutMs: 10_000, author: { name: 'T', email: 't@example.com' }, tagPrefix: '' },
      docs: { path: gitRepo(), branch: 'main', checks: { test: ['true'] }, checkTimeoutMs: 10_000, author: { name: 'T', email: 't@example.com' }, tagPrefix: '' },
    }
    const { app, url } = await serverWithoutRunner({ workspaces })
    const dir = tempDir()
    // No telling extension: detection is by content.
    const run = await runCli(['dispatch', file(dir, 'change.txt', DIFF), '--target', 'docs', '--check', 'test'], asToken(url))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /\(diff → docs, queued\)/)
    const record = (await app.store.get(acceptedId(run.stdout)))!
    assert.equal(record.target, 'docs')
    assert.deepEqual(record.patch.operations, [{ op: 'diff', diff: DIFF }])
    assert.deepEqual(record.patch.checks, ['test'])
    assert.equal(record.description, 'change.txt: README.md, notes.txt')

    const plain = await runCli(['dispatch', file(dir, 'plain.patch', DIFF), '--description', 'capitalise'], asToken(url))
    assert.equal(plain.code, 0, plain.stderr)
    const second = (await app.store.get(acceptedId(plain.stdout)))!
    assert.equal(second.target, 'default', 'a diff goes to `default` without --target')
    assert.equal(second.description, 'capitalise')
  })

  it('detects a V4A patch, from a file or from standard input', async () => {
    const { app, url } = await serverWithoutRunner()
    const run = await runCli(['dispatch', file(tempDir(), 'edit', V4A)], asToken(url))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /\(apply_patch → default, queued\)/)
    const record = (await app.store.get(acceptedId(run.stdout)))!
    assert.deepEqual(record.patch.operations, [{ op: 'apply_patch', patch: V4A }])
    assert.equal(record.description, 'edit: README.md, v4a.txt')

    const piped = await runCli(['dispatch', '-'], asToken(url), { input: V4A })
    assert.equal(piped.code, 0, piped.stderr)
    assert.equal((await app.store.get(acceptedId(piped.stdout)))?.description, 'stdin: README.md, v4a.txt')
  })

  it('sends a legacy v1 payload as it is, and signs with the first GHOST_WEBHOOK_SECRETS secret when there is no token', async () => {
    const { app, url } = await serverWithoutRunner()
    const legacy = { id: 'v1-cli', role: 'ghost', target_file: 'README.md', patch: { pattern: 'demo', replacement: 'Demo' } }
    const run = await runCli(['dispatch', file(tempDir(), 'legacy.json', legacy)], { GHOST_URL: url, GHOST_WEBHOOK_SECRETS: `${SECRET},whsec_b3RoZXJzZWNyZXQ=` })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /\(legacy_v1 → default, queued\)/)
    const record = (await app.store.get(acceptedId(run.stdout)))!
    assert.equal(record.format, 'legacy_v1')
    assert.equal(record.client_id, 'v1-cli')
  })

  it('prints server problems as `code: title — detail` and exits 4', async () => {
    const { url } = await serverWithoutRunner()
    const dir = tempDir()
    const patch = file(dir, 'p.json', NATIVE)
    const badToken = await runCli(['dispatch', patch, '--token', 'not-the-token-at-all'], { GHOST_URL: url })
    assert.equal(badToken.code, 4)
    assert.equal(badToken.stderr.trim(), 'UNAUTHORIZED: The bearer token is not valid')

    const unknownTarget = await runCli(['dispatch', patch, '--target', 'nowhere'], asToken(url))
    assert.equal(unknownTarget.code, 4)
    assert.match(unknownTarget.stderr, /^UNKNOWN_TARGET: The patch cannot be accepted — \/target: .*nowhere/m)

    const asJson = await runCli(['dispatch', patch, '--target', 'nowhere', '--json'], asToken(url))
    assert.equal(asJson.code, 4)
    assert.equal(JSON.parse(asJson.stdout).code, 'UNKNOWN_TARGET')

    const down = await runCli(['dispatch', patch], { GHOST_URL: `http://127.0.0.1:${await freePort()}`, GHOST_TOKEN: TOKEN })
    assert.equal(down.code, 4)
    assert.match(down.stderr, /^CONNECTION_FAILED: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/)
  })

  it('refuses what it cannot send with exit 64: unknown content, a missing file, bad flags', async () => {
    const dir = tempDir()
    const prose = await runCli(['dispatch', file(dir, 'notes.md', '# just some notes\n')])
    assert.equal(prose.code, 64)
    assert.match(prose.stderr, /notes\.md: cannot tell what it holds: expected a JSON patch/)
    const badJson = await runCli(['dispatch', file(dir, 'bad.json', '{"target": ')])
    assert.equal(badJson.code, 64)
    assert.match(badJson.stderr, /bad\.json: not valid JSON/)
    const missing = await runCli(['dispatch', join(dir, 'absent.json')])
    assert.equal(missing.code, 64)
    assert.match(missing.stderr, /cannot read .*absent\.json: ENOENT/)
    const timeoutAlone = await runCli(['dispatch', '--timeout', '5', file(dir, 'p.json', NATIVE)])
    assert.equal(timeoutAlone.code, 64)
    assert.match(timeoutAlone.stderr, /--timeout only applies with --wait/)
    const flag = await runCli(['dispatch', '--frobnicate', 'x'])
    assert.equal(flag.code, 64)
    assert.match(flag.stderr, /Unknown option '--frobnicate'[\s\S]*ghost-runner dispatch --help/)
    const none = await runCli(['dispatch'])
    assert.equal(none.code, 64)
  })
})

describe('ghost-runner dispatch --wait', () => {
  it('follows the patch live and exits 0 on applied, printing the commit sha and tag', async () => {
    const { app, url } = await serverWithoutRunner()
    const running = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], asToken(url))
    const { record, token } = await claimNext(app.store)
    const files = [{ path: 'hello.txt', change: 'added' as const, added: 1, removed: 0 }]
    assert.ok(await app.store.complete(record.id, token, result({ commit: SHA, tag: 'v1.2.3', files })))
    const run = await running
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, new RegExp(`^applied ${record.id} to default$`, 'm'))
    assert.match(run.stdout, new RegExp(`^commit  ${SHA}$`, 'm'))
    assert.match(run.stdout, /^tag {5}v1\.2\.3$/m)
    assert.match(run.stdout, /A hello\.txt \(\+1 -0\)/)
    // The live progress names each transition with its reason.
    assert.match(run.stderr, /queued\s+enqueued[\s\S]*running\s+claimed\s+test-runner[\s\S]*applied\s+completed/)
  })

  it('exits 1 on failed with the reason code, message and the failing check\'s output tail', async () => {
    const { app, url } = await serverWithoutRunner()
    const running = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], asToken(url))
    const { record, token } = await claimNext(app.store)
    const output = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n') + '\nAssertionError: expected 2 to equal 3\n'
    const check = { name: 'test', argv: ['npm', 'test'], exit_code: 1, signal: null, timed_out: false, duration_ms: 1234, output_tail: output }
    assert.ok(await app.store.fail(record.id, token, 'failed', { code: 'CHECK_FAILED', message: 'check test exited with 1' }, result({ checks: [check] })))
    const run = await running
    assert.equal(run.code, 1)
    assert.match(run.stderr, new RegExp(`^failed ${record.id}: CHECK_FAILED: check test exited with 1$`, 'm'))
    assert.match(run.stderr, /check test \(npm test\) exit 1 after 1234 ms; output tail:/)
    assert.match(run.stderr, /AssertionError: expected 2 to equal 3/)
    assert.doesNotMatch(run.stderr, /line 5\n/, 'only the tail of a long output')
    assert.equal(run.stdout, '')
  })

  it('exits 2 on rejected with the reason; --json prints the final record instead', async () => {
    const { app, url } = await serverWithoutRunner()
    const running = runCli(['dispatch', '--wait', '--json', file(tempDir(), 'p.json', NATIVE)], asToken(url))
    const { record, token } = await claimNext(app.store)
    const error = { code: 'CONTEXT_NOT_FOUND', message: 'text to replace not found in README.md', path: 'README.md', detail: 'no such text' }
    assert.ok(await app.store.fail(record.id, token, 'rejected', error, null))
    const run = await running
    assert.equal(run.code, 2)
    const final = JSON.parse(run.stdout)
    assert.equal(final.status, 'rejected')
    assert.deepEqual(final.error, error)
    assert.equal(run.stderr, '', '--json keeps progress off the terminal')

    const human = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], asToken(url))
    const next = await claimNext(app.store)
    assert.ok(await app.store.fail(next.record.id, next.token, 'rejected', error, null))
    const out = await human
    assert.equal(out.code, 2)
    assert.match(out.stderr, /^rejected \S+: CONTEXT_NOT_FOUND: text to replace not found in README\.md$/m)
    assert.match(out.stderr, /path: README\.md/)
    assert.match(out.stderr, /no such text/)
  })

  it('exits 3 when the patch is cancelled and 5 when --timeout passes first', async () => {
    const { app, url } = await serverWithoutRunner()
    const running = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], asToken(url))
    let id: string | undefined
    while (!id) {
      await sleep(50)
      id = (await app.store.list({ limit: 1 })).items[0]?.id
    }
    assert.equal((await app.store.cancel(id)).outcome, 'cancelled')
    assert.equal((await running).code, 3)

    const timedOut = await runCli(['dispatch', '--wait', '--timeout', '1', file(tempDir(), 'q.json', NATIVE)], asToken(url))
    assert.equal(timedOut.code, 5)
    assert.match(timedOut.stderr, /gave up waiting after 1 s; \S+ is queued/)
  })

  it('falls back to polling GET /patches/{id} when the server has no event stream', async () => {
    const { app, url } = await serverWithoutRunner()
    const seen: string[] = []
    // A proxy that hides the SSE route, as an older server or a strict gateway would.
    const proxy = createServer(async (req, res) => {
      seen.push(`${req.method} ${req.url}`)
      if (req.url?.endsWith('/events')) {
        res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'No route', status: 404, code: 'ROUTE_NOT_FOUND' }))
        return
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>
      const body = await read(req)
      const upstream = await fetch(url + req.url, { method: req.method, headers, body: body.length > 0 ? body : undefined })
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' }).end(Buffer.from(await upstream.arrayBuffer()))
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    after(() => proxy.close())
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`

    const running = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], asToken(proxyUrl))
    const { record, token } = await claimNext(app.store)
    assert.ok(await app.store.complete(record.id, token, result({ commit: SHA })))
    const run = await running
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, new RegExp(`commit  ${SHA}`))
    assert.ok(seen.includes(`GET /patches/${record.id}/events`), 'tried the stream first')
    assert.ok(seen.filter((s) => s === `GET /patches/${record.id}`).length >= 1, 'then polled the record')
  })

  it('signs only the dispatch: --secret signs POST /webhook, and --wait reads with the token', async () => {
    const { app, url } = await serverWithoutRunner()
    const seen: { request: string; bearer: boolean; signed: boolean }[] = []
    const proxy = createServer(async (req, res) => {
      seen.push({ request: `${req.method} ${req.url}`, bearer: req.headers.authorization !== undefined, signed: req.headers['webhook-signature'] !== undefined })
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>
      const body = await read(req)
      const upstream = await fetch(url + req.url, { method: req.method, headers, body: body.length > 0 ? body : undefined })
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      // Streamed through, so that the event stream stays live.
      for await (const chunk of upstream.body ?? []) res.write(chunk)
      res.end()
    })
    proxy.listen(0, '127.0.0.1')
    await once(proxy, 'listening')
    after(() => proxy.close())
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`

    const running = runCli(['dispatch', '--wait', '--secret', SECRET, file(tempDir(), 'p.json', NATIVE)], asToken(proxyUrl))
    const { record, token } = await claimNext(app.store)
    assert.ok(await app.store.complete(record.id, token, result({ commit: SHA })))
    const run = await running
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(seen[0], { request: 'POST /webhook', bearer: false, signed: true })
    const reads = seen.slice(1)
    assert.ok(reads.some((r) => r.request === `GET /patches/${record.id}/events`), JSON.stringify(seen))
    for (const r of reads) assert.deepEqual({ ...r, request: r.request.split(' ')[0] }, { request: 'GET', bearer: true, signed: false }, JSON.stringify(r))
  })

  it('refuses --wait with only a webhook secret (exit 64) before sending anything: reading a patch needs a token', async () => {
    const { app, url } = await serverWithoutRunner()
    const run = await runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], { GHOST_URL: url, GHOST_WEBHOOK_SECRETS: SECRET })
    assert.equal(run.code, 64, run.stderr)
    assert.match(run.stderr, /--wait reads the patch back, which needs a bearer token/)
    assert.deepEqual((await app.store.list({ limit: 10 })).items, [], 'nothing was dispatched')
  })

  it('needs no credentials at all against a server without any, on loopback (the quick start)', async () => {
    const { app, url } = await serverWithoutRunner({ apiTokens: [], webhookSecrets: [] })
    const running = runCli(['dispatch', '--wait', file(tempDir(), 'p.json', NATIVE)], { GHOST_URL: url })
    const { record, token } = await claimNext(app.store)
    assert.ok(await app.store.complete(record.id, token, result({ commit: SHA })))
    const run = await running
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, new RegExp(`^commit  ${SHA}$`, 'm'))
    const status = await runCli(['status', record.id], { GHOST_URL: url })
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /applied/)
  })
})

async function read(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}
