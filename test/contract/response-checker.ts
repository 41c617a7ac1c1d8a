import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { createParser } from 'eventsource-parser'
import { parse } from 'yaml'

/**
 * Checks an HTTP response (status, headers, body) against the operation openapi.yaml documents
 * for its route. Schemas are JSON Schema 2020-12, OpenAPI 3.1's dialect, compiled by Ajv's 2020
 * build where they stand in the document, so every `$ref` resolves as a client's would.
 */

type Json = Record<string, unknown>
interface MediaType {
  schema?: Json
}
interface Header {
  required?: boolean
  schema?: Json
}
interface ResponseObject {
  headers?: Record<string, Header>
  content?: Record<string, MediaType>
}
interface Operation {
  operationId: string
  responses: Record<string, ResponseObject>
}

export interface ObservedResponse {
  method: string
  /** The route as Fastify names it (`/patches/:id`). */
  route: string
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
}

const DOCUMENT_ID = 'https://ghost-runner.invalid/openapi.json'
const escapePointer = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1')
const isJson = (mediaType: string) => mediaType === 'application/json' || mediaType.endsWith('+json')

/**
 * A string the document declares as JSON (`contentMediaType: application/json` with a
 * `contentSchema`, the SSE `data` field) is checked decoded: its content schema takes its place.
 */
function decodeJsonStrings(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(decodeJsonStrings)
  if (typeof node !== 'object' || node === null) return node
  const schema = node as Json
  if (schema.contentMediaType === 'application/json' && schema.contentSchema) return decodeJsonStrings(schema.contentSchema)
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, decodeJsonStrings(v)]))
}

/** SSE text as the array of its messages, `data` parsed as JSON; comments (heartbeats) are not messages. */
function sseMessages(text: string): unknown[] {
  const messages: unknown[] = []
  const parser = createParser({
    onEvent: (e) => {
      let data: unknown = e.data
      try {
        data = JSON.parse(e.data)
      } catch {
        // left as text: the schema says what it should have been
      }
      messages.push({ ...(e.event === undefined ? {} : { event: e.event }), ...(e.id === undefined ? {} : { id: e.id }), data })
    },
  })
  parser.feed(text)
  return messages
}

export class ResponseChecker {
  readonly document: Json & { paths: Record<string, Record<string, Operation>> }
  readonly #ajv: Ajv2020
  readonly #compiled = new Map<string, ValidateFunction>()

  constructor(file = new URL('../../openapi.yaml', import.meta.url)) {
    this.document = parse(readFileSync(file, 'utf8'))
    // strict: false because OpenAPI adds keywords to the dialect (discriminator, example); the
    // document itself is validated against the OpenAPI 3.1 schema in test/openapi.test.ts.
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: false })
    addFormats.default(this.#ajv)
    this.#ajv.addSchema(decodeJsonStrings(this.document) as Json, DOCUMENT_ID)
  }

  /** The documented operation of a Fastify route, with its path in the document. */
  operation(method: string, route: string): { path: string; operation: Operation } | null {
    const path = route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    const operation = this.document.paths[path]?.[method.toLowerCase()]
    return operation ? { path, operation } : null
  }

  #validator(pointer: string[]): ValidateFunction {
    const ref = `${DOCUMENT_ID}#/${pointer.map(escapePointer).join('/')}`
    let validate = this.#compiled.get(ref)
    if (!validate) {
      validate = this.#ajv.compile({ $ref: ref })
      this.#compiled.set(ref, validate)
    }
    return validate
  }

  #errors(validate: ValidateFunction, value: unknown): string[] {
    if (validate(value)) return []
    return (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
  }

  /** Every way the response departs from the contract; empty when it keeps it. */
  check(res: ObservedResponse): string[] {
    const where = `${res.method} ${res.route} → ${res.status}`
    // HEAD is GET without the body (Fastify answers it for every GET route); it is not documented apart.
    const method = res.method === 'HEAD' && !this.operation('HEAD', res.route) ? 'GET' : res.method
    const found = this.operation(method, res.route)
    if (!found) return [`${where}: the route is not in openapi.yaml (regenerate it with \`npm run openapi\`, or hide the route)`]
    const { path, operation } = found
    const status = String(res.status)
    const documented = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default
    if (!documented) return [`${where}: ${operation.operationId} does not document status ${status} (it documents ${Object.keys(operation.responses).join(', ')})`]
    const key = operation.responses[status] ? status : operation.responses[`${status[0]}XX`] ? `${status[0]}XX` : 'default'
    const base = ['paths', path, method.toLowerCase(), 'responses', key]
    const out: string[] = []

    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const raw = res.headers[name.toLowerCase()]
      if (raw === undefined) {
        if (header.required) out.push(`${where}: required header ${name} is missing`)
        continue
      }
      if (!header.schema) continue
      const text = Array.isArray(raw) ? raw.join(', ') : String(raw)
      const type = header.schema.type
      const value = type === 'integer' || type === 'number' ? (/^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text) : text
      for (const e of this.#errors(this.#validator([...base, 'headers', name, 'schema']), value)) out.push(`${where}: header ${name}: ${e}`)
    }

    const contentType = String(res.headers['content-type'] ?? '')
    const mediaType = contentType.split(';')[0]!.trim().toLowerCase()
    const content = documented.content ?? {}
    if (Object.keys(content).length === 0) {
      if (res.body.length > 0) out.push(`${where}: a body (${mediaType}) where the document declares none`)
      return out
    }
    if (res.method === 'HEAD') return out
    const media = content[mediaType]
    if (!media) return [...out, `${where}: content type "${contentType}" is not documented (${Object.keys(content).join(', ')})`]
    if (!media.schema) return out
    let body: unknown
    if (isJson(mediaType)) {
      try {
        body = JSON.parse(res.body)
      } catch {
        return [...out, `${where}: the ${mediaType} body is not JSON: ${res.body.slice(0, 200)}`]
      }
    } else if (mediaType === 'text/event-stream') {
      body = sseMessages(res.body)
    } else {
      body = res.body
    }
    for (const e of this.#errors(this.#validator([...base, 'content', mediaType, 'schema']), body)) out.push(`${where}: body ${e}`)
    return out
  }
}
