import type { Problem } from '../../src/schemas/problem.js'
import { session } from './session.js'

/** The API sits one level above the page (/ui/ → /), also behind a proxy that adds a prefix. */
const API_ROOT = new URL('..', document.baseURI)

export const REJECTED_TOKEN = 'The server did not accept this token. Check it and sign in again.'

/** A problem+json answer (or a failure to reach the server, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string | undefined,
    /** Seconds, from Retry-After. */
    readonly retryAfter: number | undefined,
  ) {
    super(detail ? `${title}: ${detail}` : title)
  }
}

async function problemFrom(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get('retry-after'))
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined
  try {
    const p = (await res.json()) as Partial<Problem>
    return new ApiError(res.status, p.code ?? `HTTP_${res.status}`, p.title ?? res.statusText, p.detail, retryAfter)
  } catch {
    return new ApiError(res.status, `HTTP_${res.status}`, res.statusText || `HTTP ${res.status}`, undefined, retryAfter)
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST'
  accept?: string
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Statuses whose body is the answer, not a problem (GET /health answers 503 with its body). */
  ok?: number[]
  /** Use this token instead of the session's (signing in). */
  token?: string
}

/**
 * Calls the API with the bearer token. A 401 means the token is wrong or was revoked: the
 * session ends and the page asks for a token again. Every other refusal is an ApiError.
 */
export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  const token = opts.token ?? session.token()
  if (token === null) throw new ApiError(401, 'UNAUTHORIZED', 'Not signed in', undefined, undefined)
  let res: Response
  try {
    res = await fetch(new URL(path, API_ROOT), {
      method: opts.method ?? 'GET',
      // An empty token: a server without credentials (loopback only) takes none.
      headers: { ...(token === '' ? {} : { authorization: `Bearer ${token}` }), accept: opts.accept ?? 'application/json', ...opts.headers },
      signal: opts.signal,
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch (err) {
    if (opts.signal?.aborted) throw err
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached', (err as Error).message, undefined)
  }
  if (res.ok || opts.ok?.includes(res.status)) return res
  const problem = await problemFrom(res)
  if (res.status === 401 && opts.token === undefined) session.signOut(REJECTED_TOKEN)
  throw problem
}

export async function getJson<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return (await (await request(path, opts)).json()) as T
}

export async function postJson<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return (await (await request(path, { ...opts, method: 'POST' })).json()) as T
}

/** What a refusal means to the operator, in words: 403 and 404 come from what the token may see. */
export function explain(err: unknown, what = 'this'): string {
  if (!(err instanceof ApiError)) return `Something went wrong: ${(err as Error)?.message ?? String(err)}`
  if (err.status === 403) return `This token may not see ${what}${err.detail ? ` (${err.detail})` : ''}.`
  if (err.status === 404 && err.code === 'NOT_FOUND') return `Not found: ${what} does not exist, or this token may not read it.`
  if (err.status === 0) return `${err.title}${err.detail ? ` (${err.detail})` : ''}. It will be tried again.`
  return `${err.title}${err.detail && !err.title.includes(err.detail) ? `: ${err.detail}` : ''} (${err.code})`
}
