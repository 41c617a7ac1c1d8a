/**
 * The client code the SDK test writes next to the types it generates, typechecks with
 * `tsc --strict`, and then imports and runs. It is a string because the types it imports only
 * exist at test time; it uses the generated `paths` and `components` the way a client project
 * would, with no cast: every type comes from openapi.yaml.
 */
export const CLIENT_FLOW = `import createClient from 'openapi-fetch'
import type { components, paths } from './schema.js'

type Client = ReturnType<typeof createClient<paths>>
type Schemas = components['schemas']
export type PatchStreamEvent = Schemas['PatchStreamEvent']
const FINAL: Schemas['PatchStatus'][] = ['applied', 'failed', 'rejected', 'cancelled']

export function connect(baseUrl: string, token: string): Client {
  return createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } })
}

export async function dispatch(client: Client, contents: string) {
  const operation: Schemas['WriteOp'] = { op: 'write', path: 'sdk.txt', contents }
  const patch: Schemas['NativePatch'] = { target: 'default', description: 'from the generated client', operations: [operation], checks: ['test'] }
  const { data, error, response } = await client.POST('/webhook', {
    params: { header: { 'idempotency-key': \`sdk-\${Date.now()}-\${Math.random()}\` } },
    body: patch,
  })
  if (error) throw new Error(\`dispatch: \${error.code}: \${error.title}\`)
  const accepted: Schemas['Accepted'] = data
  return { id: accepted.id, status: accepted.status, httpStatus: response.status, location: response.headers.get('location') }
}

export async function waitForFinal(client: Client, id: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { data, error } = await client.GET('/patches/{id}', { params: { path: { id } } })
    if (error) throw new Error(\`get: \${error.code}: \${error.title}\`)
    const record: Schemas['PatchDetail'] = data
    if (FINAL.includes(record.status)) {
      return { status: record.status, commit: record.result?.commit ?? null, error: record.error, events: record.events.map((e) => e.status) }
    }
    if (Date.now() > deadline) throw new Error(\`still \${record.status} after \${timeoutMs} ms\`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The first page with the server's default size: limit is optional. */
export async function list(client: Client) {
  const { data, error } = await client.GET('/patches')
  if (error) throw new Error(\`list: \${error.code}: \${error.title}\`)
  const page: Schemas['PatchList'] = data
  return { ids: page.items.map((p) => p.id), statuses: page.items.map((p) => p.status), next: page.next_cursor }
}

/** Reads the event stream to its end (it closes after a final status), decoding each message's data. */
export async function events(client: Client, id: string, after = 0) {
  const { data, error, response } = await client.GET('/patches/{id}/events', {
    params: { path: { id }, header: { 'last-event-id': String(after) } },
    parseAs: 'stream',
  })
  if (error) throw new Error(\`events: \${error.code}: \${error.title}\`)
  if (!data) throw new Error('events: no body')
  const text = await new Response(data).text()
  const received: PatchStreamEvent[] = []
  for (const block of text.split('\\n\\n')) {
    const message: Partial<Schemas['PatchStreamMessage']> = {}
    for (const line of block.split('\\n')) {
      if (line.startsWith('data: ')) message.data = line.slice(6)
      else if (line.startsWith('id: ')) message.id = line.slice(4)
    }
    if (message.data === undefined) continue
    const event: PatchStreamEvent = JSON.parse(message.data)
    received.push(event)
  }
  return { contentType: response.headers.get('content-type'), events: received }
}

export async function cancel(client: Client, id: string) {
  const { data, error, response } = await client.POST('/patches/{id}/cancel', { params: { path: { id } } })
  if (error) return { httpStatus: response.status, code: error.code, status: null }
  const record: Schemas['PatchRecord'] = data
  return { httpStatus: response.status, code: null, status: record.status, cancelledBy: record.cancelled_by }
}

type HealthAnswer =
  | { httpStatus: 200; body: Schemas['Health'] | Schemas['HealthCheckDraft'] }
  | { httpStatus: 503; body: Schemas['HealthUnavailable'] | Schemas['HealthCheckDraftUnavailable'] | Schemas['Problem'] }

/** GET /health in either media type: 200 and 503 are both answers, each with its own type. */
export async function health(client: Client, accept: 'application/json' | 'application/health+json') {
  const { data, error, response } = await client.GET('/health', { headers: { accept } })
  const answer: HealthAnswer | null = data ? { httpStatus: 200, body: data } : error ? { httpStatus: 503, body: error } : null
  if (!answer || answer.httpStatus !== response.status) throw new Error(\`health: unexpected \${response.status}\`)
  const body = answer.body
  const status = 'overall_status' in body ? body.overall_status : 'serviceId' in body ? body.status : \`problem \${body.code}\`
  return { httpStatus: response.status, contentType: response.headers.get('content-type'), status, retryAfter: response.headers.get('retry-after') }
}
`
