import { randomUUID } from 'node:crypto'
import { sign } from '../auth/webhook-signature.js'
import type { Problem } from '../schemas/problem.js'

export const DEFAULT_URL = 'http://127.0.0.1:5555'

/**
 * What the client authenticates with. A bearer token works on every route; a Standard Webhooks
 * secret signs `POST /webhook` only (a signature covers one body, not a route), so reading a
 * patch back needs a token. Neither: an open loopback server.
 */
export interface Credentials {
  token: string | null
  /** How `POST /webhook` is authenticated: with the token, or signed with a secret. */
  dispatch: { token: string } | { secret: string } | null
}

/** The server answered with an error; `problem` is its problem+json (or one made from a bare status). */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.code}: ${problem.title}${problem.detail ? ` — ${problem.detail}` : ''}`)
  }
}

/** The server could not be reached or the connection broke. */
export class ConnectionError extends Error {}

/** Server and credentials from flags, then the environment, then the defaults. */
export function connectionFrom(flags: { url?: string; token?: string; secret?: string }, env: NodeJS.ProcessEnv): { url: string; credentials: Credentials } {
  const first = (list: string | undefined) => list?.split(',').map((s) => s.trim()).find(Boolean)
  // A `sha256:` entry is the digest the server compares, not a token a client can send.
  const firstToken = (list: string | undefined) => list?.split(',').map((s) => s.trim()).find((t) => t && !t.startsWith('sha256:'))
  const url = flags.url ?? (env.GHOST_URL || DEFAULT_URL)
  const envToken = env.GHOST_TOKEN || firstToken(env.GHOST_API_TOKENS) || null
  const token = flags.token || envToken
  // For the dispatch an explicit flag beats the environment; a token beats a secret at the same level.
  const secret = flags.secret || first(env.GHOST_WEBHOOK_SECRETS) || null
  let dispatch: Credentials['dispatch'] = null
  if (flags.token) dispatch = { token: flags.token }
  else if (flags.secret) dispatch = { secret: flags.secret }
  else if (envToken) dispatch = { token: envToken }
  else if (secret) dispatch = { secret }
  return { url, credentials: { token, dispatch } }
}

export class ApiClient {
  readonly baseUrl: string
  constructor(
    url: string,
    private readonly credentials: Credentials,
  ) {
    this.baseUrl = url.replace(/\/+$/, '')
  }

  /** Whether reads (status, following a patch) can authenticate: a token, or an open server. */
  get canRead(): boolean {
    return this.credentials.token !== null || this.credentials.dispatch === null
  }

  private authHeaders(method: string, path: string, body: string): Record<string, string> {
    const use = method === 'POST' && path === '/webhook' ? this.credentials.dispatch : this.credentials.token === null ? null : { token: this.credentials.token }
    if (use === null) return {}
    if ('token' in use) return { authorization: `Bearer ${use.token}` }
    // The server verifies the signature over the exact body bytes.
    const id = `msg_${randomUUID()}`
    const ts = Math.floor(Date.now() / 1000)
    return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(use.secret, id, ts, body) }
  }

  /** Sends the request; connection failures become ConnectionError, nothing else is interpreted. */
  async send(method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
    const body = opts.body === undefined ? '' : JSON.stringify(opts.body)
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers, ...this.authHeaders(method, path, body) }
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetch(`${this.baseUrl}${path}`, { method, headers, body: opts.body === undefined ? undefined : body, signal: opts.signal })
    } catch (err) {
      if ((err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') throw err
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new ConnectionError(`cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`)
    }
  }

  /** A JSON request: the parsed body on 2xx, ProblemError otherwise. */
  async json<T>(method: 'GET' | 'POST', path: string, opts: { body?: unknown; signal?: AbortSignal } = {}): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, opts)
    if (!res.ok) throw new ProblemError(await problemOf(res))
    return { status: res.status, body: (await res.json()) as T }
  }
}

/** The problem document of an error response; a proxy's HTML page becomes a problem too. */
export async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '')
  if (/json/.test(res.headers.get('content-type') ?? '')) {
    try {
      const parsed = JSON.parse(text) as Partial<Problem>
      if (typeof parsed.code === 'string' && typeof parsed.title === 'string') return { type: 'about:blank', status: res.status, ...parsed } as Problem
    } catch {
      // not JSON after all: described below from the status
    }
  }
  const detail = text.replace(/\s+/g, ' ').trim().slice(0, 200)
  return { type: 'about:blank', status: res.status, code: `HTTP_${res.status}`, title: res.statusText || 'Request failed', ...(detail ? { detail } : {}) }
}
