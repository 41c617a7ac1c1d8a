import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import Fastify from 'fastify'
import { endStreamsOnClose, SseStream, startSse } from '../../src/streams/sse-stream.js'

const CHUNK = 'data: ' + 'x'.repeat(64 * 1024 - 8) + '\n\n'
const CAP = 256 * 1024

/** A stream that writes a 64 KiB message every few milliseconds for as long as it is open. */
class Firehose extends SseStream {
  written = 0
  pump(): void {
    const timer = setInterval(() => {
      if (this.ended) return clearInterval(timer)
      this.written += CHUNK.length
      this.write(CHUNK)
    }, 2)
  }
}

/** A server with one such stream per request, and what became of each. */
async function firehoseServer() {
  const app = Fastify()
  const open = new Set<SseStream>()
  const streams: { stream: Firehose; ended: Promise<void> }[] = []
  endStreamsOnClose(app, open, () => {})
  app.get('/stream', (request, reply) => {
    let ended!: () => void
    const done = new Promise<void>((resolve) => (ended = resolve))
    const stream = new Firehose(startSse(reply), { heartbeatMs: 60_000, open, onEnd: () => ended(), log: request.log, maxBufferedBytes: CAP })
    streams.push({ stream, ended: done })
    stream.pump()
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return { app, port, open, streams }
}

async function openStream(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write('GET /stream HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n')
  return socket
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())])

describe('event stream backpressure', () => {
  it('cuts off a client that stops reading once the cap is waiting for it, and gives its slot back', async () => {
    const { app, port, open, streams } = await firehoseServer()
    try {
      const socket = await openStream(port)
      socket.pause()
      await within(once(app.server, 'request'), 5000, 'the request arrived')
      const [{ stream, ended }] = streams as [(typeof streams)[0]]
      // The kernel's socket buffers take a few MiB first; after them, at most the cap waits here.
      await within(ended, 10_000, 'a stream nobody reads ended')
      assert.equal(stream.ended, true)
      assert.equal(open.size, 0, 'the route no longer counts the stream')
      const writtenAtEnd = stream.written
      // The client, reading again, gets what reached its socket and then the end: nothing more
      // was kept for it in the server.
      let received = 0
      socket.on('data', (chunk: Buffer) => (received += chunk.length))
      socket.resume()
      await within(once(socket, 'close'), 10_000, 'the client saw the stream end')
      assert.ok(received < writtenAtEnd, `the client got ${received} bytes of the ${writtenAtEnd} written: the rest was dropped, not held`)
      await new Promise((r) => setTimeout(r, 50))
      assert.equal(stream.written, writtenAtEnd, 'nothing is written to an ended stream')
    } finally {
      await app.close()
    }
  })

  it('keeps a client that reads as fast as events come, however much it reads', async () => {
    const { app, port, open, streams } = await firehoseServer()
    try {
      const socket = await openStream(port)
      let received = 0
      const enough = 16 * CAP
      await within(
        new Promise<void>((resolve) =>
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length
            if (received > enough) resolve()
          }),
        ),
        20_000,
        `${enough} bytes read`,
      )
      assert.equal(streams[0]!.stream.ended, false, 'a reading client is never cut off')
      assert.equal(open.size, 1)
      socket.destroy()
      await within(streams[0]!.ended, 5000, 'the stream ended with its client')
    } finally {
      await app.close()
    }
  })
})
