// A real HTTP receiver on a free local port, recording every request it gets.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after } from 'node:test'

export interface Received {
  headers: IncomingHttpHeaders
  body: Buffer
  /** performance.now() when the request arrived. */
  at: number
}

/** Answers the n-th request (from 0) with a status, after a delay, or never ('hang'). */
export type Responder = (n: number, req: Received) => number | 'hang' | { status: number; delayMs?: number; headers?: Record<string, string> }

export interface Receiver {
  url: string
  received: Received[]
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>
  close(): Promise<void>
}

export async function receiver(respond: Responder = () => 200, path = '/hook'): Promise<Receiver> {
  const received: Received[] = []
  const hanging = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: Buffer.concat(chunks), at: performance.now() }
      const answer = respond(received.length, r)
      received.push(r)
      const reply = (status: number, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('ok')
      if (answer === 'hang') hanging.add(res)
      else if (typeof answer === 'number') reply(answer)
      else setTimeout(() => reply(answer.status, answer.headers), answer.delayMs ?? 0)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  after(close)
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    async waitFor(count, timeoutMs = 10_000) {
      await until(() => received.length >= count, `${count} requests (got ${received.length})`, timeoutMs)
      return received.slice(0, count)
    },
    close,
  }
}

/** A URL on which nothing listens: a port just freed. */
export async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/hook`
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
