/**
 * The client code the SDK test writes next to the types it generates, typechecks with tsc, and
 * then imports and runs. It is a string because the types it imports only exist at test time;
 * it uses the generated `paths` the way a client project would.
 */
export const CLIENT_FLOW = `import createClient from 'openapi-fetch'
import type { paths } from './schema.js'

type Client = ReturnType<typeof createClient<paths>>
type PatchRecord = paths['/patches/{id}']['get']['responses'][200]['content']['application/json']
const FINAL: PatchRecord['status'][] = ['applied', 'failed', 'rejected', 'cancelled']

export function connect(baseUrl: string, token: string): Client {
  return createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${token}\` } })
}

export async function dispatch(client: Client, contents: string) {
  const { data, error, response } = await client.POST('/webhook', {
    params: { header: { 'idempotency-key': \`sdk-\${Date.now()}\` } },
    body: {
      target: 'default',
      description: 'from the generated client',
      operations: [{ op: 'write', path: 'sdk.txt', contents }],
      checks: ['test'],
    },
  })
  if (error) throw new Error(\`dispatch: \${error.code}: \${error.title}\`)
  return { id: data.id, status: data.status, httpStatus: response.status }
}

export async function waitForFinal(client: Client, id: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { data, error } = await client.GET('/patches/{id}', { params: { path: { id } } })
    if (error) throw new Error(\`get: \${error.code}: \${error.title}\`)
    if (FINAL.includes(data.status)) {
      return { status: data.status, commit: data.result?.commit ?? null, error: data.error, events: data.events.map((e) => e.status) }
    }
    if (Date.now() > deadline) throw new Error(\`still \${data.status} after \${timeoutMs} ms\`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export async function list(client: Client) {
  const { data, error } = await client.GET('/patches', { params: { query: { limit: 10 } } })
  if (error) throw new Error(\`list: \${error.code}: \${error.title}\`)
  return { ids: data.items.map((p) => p.id), statuses: data.items.map((p) => p.status), next: data.next_cursor }
}
`
