import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { it } from 'node:test'
import { TOKEN, testApp } from '../helpers/app.js'

/** Collects what the server sends until it closes the socket; resolves with the text and when. */
function collect(socket: Socket): Promise<{ text: string; closedAt: number }> {
  let text = ''
  socket.on('data', (d) => (text += d))
  socket.on('error', () => {})
  return new Promise((resolve) => socket.on('close', () => resolve({ text, closedAt: Date.now() })))
}

async function liveAnswers(url: string): Promise<void> {
  const started = Date.now()
  const res = await fetch(`${url}/health/live`)
  assert.equal(res.status, 200)
  assert.ok(Date.now() - started < 2000, 'health answered slowly while slow clients held sockets')
}

it('slow headers, slow bodies and header floods are cut off with 408/431 while health keeps answering', { timeout: 60_000 }, async (t) => {
  // Whatever the outcome, the clients stop before the app closes (hooks run in the order they are
  // added, so this one first): a trickle left running after a failed assertion would hold its
  // connection, and the close, for minutes.
  const sockets: Socket[] = []
  const timers: NodeJS.Timeout[] = []
  t.after(() => {
    for (const timer of timers) clearInterval(timer)
    for (const s of sockets) s.destroy()
  })
  const app = await testApp()
  // The production settings, as buildApp makes them.
  assert.equal(app.server.requestTimeout, 30_000)
  assert.equal(app.server.headersTimeout, 10_000)
  assert.equal(app.server.keepAliveTimeout, 5_000)
  assert.equal(app.server.timeout, 60_000)
  assert.equal((app.server as unknown as { maxHeaderSize: number }).maxHeaderSize, 16 * 1024)
  // Shortened on this instance only, so the test takes seconds; the check interval stays as built.
  app.server.headersTimeout = 1_000
  app.server.requestTimeout = 2_000
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }

  const open = async () => {
    const s = connect(port, '127.0.0.1')
    sockets.push(s)
    await once(s, 'connect')
    return s
  }
  const trickle = (s: Socket, text: string) => {
    let i = 0
    const timer = setInterval(() => (i < text.length && !s.destroyed ? s.write(text[i++]!) : clearInterval(timer)), 100)
    timers.push(timer)
    return timer
  }

  // Slowloris: headers a byte at a time, never finished.
  const slowHeaders = await open()
  const slowHeadersDone = collect(slowHeaders)
  slowHeaders.write('POST /webhook HTTP/1.1\r\nHost: x\r\n')
  const t1 = trickle(slowHeaders, 'x-slow: ' + 'a'.repeat(1000))
  // Slow body: headers complete (with a valid token), the body a byte at a time.
  const slowBody = await open()
  const slowBodyDone = collect(slowBody)
  slowBody.write(`POST /webhook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{`)
  const t2 = trickle(slowBody, '"a":"' + 'b'.repeat(4000))
  // The same without credentials: refused before its body is read, and its socket closed rather
  // than kept reading what will never be used.
  const anonymousBody = await open()
  const anonymousBodyDone = collect(anonymousBody)
  anonymousBody.write('POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{')
  const t3 = trickle(anonymousBody, '"a":"' + 'b'.repeat(4000))
  const started = Date.now()

  await liveAnswers(url)
  const [h, b, a] = await Promise.all([slowHeadersDone, slowBodyDone, anonymousBodyDone])
  clearInterval(t1)
  clearInterval(t2)
  clearInterval(t3)
  assert.match(h.text, /^HTTP\/1\.1 408/, 'slow headers get 408')
  assert.ok(h.closedAt - started < 4_000, `slow headers held the socket ${h.closedAt - started} ms`)
  assert.match(b.text, /^HTTP\/1\.1 408/, 'a slow body gets 408')
  assert.ok(b.closedAt - started < 5_000, `a slow body held the socket ${b.closedAt - started} ms`)
  assert.match(a.text, /^HTTP\/1\.1 401/, 'a body without credentials gets 401 before it is read')
  assert.match(a.text, /\r\nconnection: close\r\n/i)
  assert.doesNotMatch(a.text, /408/, 'the socket was closed, not held until the request timeout')

  // Header floods: one huge header, and thousands of small ones.
  for (const headers of ['x-big: ' + 'a'.repeat(20_000) + '\r\n', Array.from({ length: 3000 }, (_, i) => `x-h${i}: v\r\n`).join('')]) {
    const s = await open()
    const done = collect(s)
    s.write(`GET /health/live HTTP/1.1\r\nHost: x\r\n${headers}\r\n`)
    const { text } = await done
    assert.match(text, /^HTTP\/1\.1 431/, `header flood: ${text.slice(0, 80)}`)
  }
  await liveAnswers(url)
})
