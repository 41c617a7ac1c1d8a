// A TCP proxy in front of PostgreSQL whose link a test can freeze, as a stalled network or a
// stopped middlebox does: bytes stop moving both ways, connections stay open. The shared
// server itself is never touched.
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

interface Link {
  client: Socket
  upstream: Socket
  /** The server's replies on this link are held back (see holdRepliesAfter). */
  holding: boolean
}

export class TcpProxy {
  readonly #server: Server
  readonly #links = new Set<Link>()
  #frozen = false
  #holdAfter: Buffer | null = null
  #held: Link | null = null

  private constructor(server: Server, readonly port: number) {
    this.#server = server
  }

  /** Listens on a free loopback port and forwards every connection to `host:port`. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port)
    server.on('connection', (client) => proxy.#accept(client, host, port))
    return proxy
  }

  /** `url` (a postgres:// URL) with its host and port replaced by the proxy's. */
  url(url: string): string {
    const u = new URL(url)
    u.hostname = '127.0.0.1'
    u.port = String(this.port)
    return u.toString()
  }

  /** Stops moving bytes both ways on every link, new ones included; nothing is closed. */
  freeze(): void {
    this.#frozen = true
    for (const link of this.#links) {
      link.client.pause()
      link.upstream.pause()
    }
  }

  /** Moves bytes again; whatever was held in between is delivered now. */
  thaw(): void {
    this.#frozen = false
    this.#holdAfter = null
    for (const link of this.#links) {
      link.holding = false
      link.client.resume()
      link.upstream.resume()
    }
  }

  /**
   * The next client message containing `marker` reaches the server, but no reply to it (or
   * after it) reaches the client until thaw(): the server acts, the client never hears.
   */
  holdRepliesAfter(marker: string): void {
    this.#holdAfter = Buffer.from(marker)
  }

  /** Whether a link is holding replies (holdRepliesAfter matched). */
  get holding(): boolean {
    return this.#held?.holding === true
  }

  async close(): Promise<void> {
    for (const link of this.#links) {
      link.client.destroy()
      link.upstream.destroy()
    }
    this.#server.close()
    await once(this.#server, 'close')
  }

  #accept(client: Socket, host: string, port: number) {
    const upstream = createConnection({ host, port })
    const link: Link = { client, upstream, holding: false }
    this.#links.add(link)
    if (this.#frozen) {
      client.pause()
      upstream.pause()
    }
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk)
      if (this.#holdAfter !== null && chunk.includes(this.#holdAfter)) {
        this.#holdAfter = null
        link.holding = true
        this.#held = link
        upstream.pause()
      }
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!link.holding) client.write(chunk)
      else upstream.unshift(chunk)
    })
    // A side that goes away lets what it sent reach the other first, as a stopped proxy that is
    // continued does: bytes it had received are forwarded, then the connection ends.
    client.on('close', () => {
      this.#links.delete(link)
      upstream.end()
    })
    upstream.on('close', () => {
      this.#links.delete(link)
      client.destroy()
    })
    client.on('error', () => {})
    upstream.on('error', () => {})
  }
}
