import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import { ResponseChecker } from './response-checker.js'

let shared: ResponseChecker | null = null
/** One checker per test process: openapi.yaml is read and its schemas compiled once. */
export const responseChecker = () => (shared ??= new ResponseChecker())

/** The headers of a writeHead call, however they were given. */
function headersOf(args: unknown[]): OutgoingHttpHeaders {
  const arg = args.find((a) => typeof a === 'object' && a !== null)
  if (!arg) return {}
  if (Array.isArray(arg)) {
    const out: OutgoingHttpHeaders = {}
    for (let i = 0; i + 1 < arg.length; i += 2) out[String(arg[i]).toLowerCase()] = arg[i + 1] as string
    return out
  }
  return Object.fromEntries(Object.entries(arg as OutgoingHttpHeaders).map(([k, v]) => [k.toLowerCase(), v]))
}

const chunkText = (chunk: unknown) => (typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : '')

/**
 * A plugin for tests only (buildApp's `instrument`): records what every response puts on the
 * wire (status, headers, body, event streams and hijacked replies included) and checks it
 * against openapi.yaml once it ends, so behaviour and contract cannot drift apart. Routes marked
 * `hide` (the Swagger UI, /mcp) and requests no route matched are left out.
 */
export const recordResponses = (violations: string[], seen?: (seen: { operationId: string; status: number }) => void) =>
  fp(
    async (app) => {
      const checker = responseChecker()
      app.addHook('onRequest', (request, reply, done) => {
        const res: ServerResponse = reply.raw
        let status = 0
        let headers: OutgoingHttpHeaders = {}
        let body = ''
        const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
        const write = res.write.bind(res) as (...args: unknown[]) => boolean
        const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
        res.writeHead = ((...args: unknown[]) => {
          status = args[0] as number
          headers = { ...res.getHeaders(), ...headersOf(args.slice(1)) }
          return writeHead(...args)
        }) as typeof res.writeHead
        // inject's response ends by writing its last chunk: that chunk is counted once, by end.
        let ending = false
        res.write = ((chunk: unknown, ...rest: unknown[]) => {
          if (!ending) body += chunkText(chunk)
          return write(chunk, ...rest)
        }) as typeof res.write
        res.end = ((chunk?: unknown, ...rest: unknown[]) => {
          if (typeof chunk !== 'function') body += chunkText(chunk)
          ending = true
          try {
            return end(chunk, ...rest)
          } finally {
            ending = false
          }
        }) as typeof res.end
        let checked = false
        const check = () => {
          if (checked) return
          checked = true
          const route = request.routeOptions.url
          if (route === undefined || request.is404 || request.routeOptions.schema?.hide) return
          // The connection closed before any answer (a client cut off mid-body): nothing to check.
          if (status === 0 && !res.headersSent) return
          if (status === 0) {
            status = res.statusCode
            headers = res.getHeaders()
          }
          const problems = checker.check({ method: request.method, route, status, headers: headers as IncomingHttpHeaders, body })
          violations.push(...problems)
          const operationId = checker.operation(request.method, route)?.operation.operationId
          if (seen && operationId) seen({ operationId, status })
        }
        res.once('finish', check)
        res.once('close', check)
        done()
      })
    },
    { name: 'record-responses' },
  )
