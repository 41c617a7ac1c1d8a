import { it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import { connect } from 'node:net'
import { buildApp } from '../../src/app.js'
import { auth, testConfig } from '../helpers/app.js'

/** A GET on `agent`, with the status, the headers and the body. */
function get(port: number, path: string, agent: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: auth }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('error', reject)
  })
}

// Clients and proxies that keep connections open should move to another instance once this
// one drains: every answer from then on says Connection: close.
it('while draining, answers say Connection: close', async () => {
  // Wide event-loop limits: a neighbouring test file's CPU burst must not read as this one's block.
  const app = await buildApp(testConfig({ health: { eventLoopWarnMs: 30_000, eventLoopFailMs: 60_000 } }))
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const before = await get(port, '/health/live', agent)
    assert.equal(before.status, 200)
    assert.equal(before.headers.connection, 'keep-alive')

    app.lifecycle.beginDrain()
    for (const path of ['/health/live', '/health/ready', '/patches']) {
      const res = await get(port, path, agent)
      assert.equal(res.headers.connection, 'close', `${path} ${res.status}`)
    }
    agent.destroy()
  } finally {
    await app.close()
  }
})

// Requests already on a kept-alive connection when the listener closes (pipelined behind a slow
// one here) still get an answer in the API's own vocabulary.
it('a request on a kept-alive socket after the listener closed gets problem+json 503 SHUTTING_DOWN with Retry-After', async () => {
  const app = await buildApp(testConfig())
  let entered!: () => void
  const inSlow = new Promise<void>((r) => (entered = r))
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  app.get('/slow', async () => {
    entered()
    await released
    return { ok: true }
  })
  let closed: Promise<undefined> | null = null
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    let raw = ''
    socket.setEncoding('utf8')
    socket.on('data', (d) => (raw += d))
    const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\nConnection: keep-alive\r\n\r\n`
    socket.write(request('/slow'))
    await inSlow
    closed = app.close()
    socket.write(request('/patches'))
    await new Promise((r) => setTimeout(r, 100))
    release()
    await once(socket, 'close')

    const responses = raw.split(/(?=HTTP\/1\.1 )/)
    assert.equal(responses.length, 2, raw)
    assert.match(responses[0]!, /^HTTP\/1\.1 200/)
    const [head, body] = responses[1]!.split('\r\n\r\n')
    assert.match(head!, /^HTTP\/1\.1 503/, raw)
    assert.match(head!, /\r\ncontent-type: application\/problem\+json/i)
    assert.match(head!, /\r\nretry-after: \d+/i)
    assert.match(head!, /\r\nconnection: close/i)
    const problem = JSON.parse(body!)
    assert.equal(problem.code, 'SHUTTING_DOWN')
    assert.equal(problem.status, 503)
  } finally {
    release()
    await (closed ?? app.close())
  }
})
