import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { auth, testApp } from '../helpers/app.js'
import { bearer, patchFor, scopedOverrides, TOKENS } from '../helpers/credentials.js'

async function connect(url: URL, headers: Record<string, string> = auth) {
  const client = new Client({ name: 'ghost-runner-test', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }))
  return client
}

// One real listening server for the file: the SDK client speaks HTTP, not inject. Its workspaces
// and scoped credentials are the shared fixture's; `auth` holds every right.
const app = await testApp(scopedOverrides())
const url = new URL('/mcp', await app.listen({ port: 0, host: '127.0.0.1' }))
const client = await connect(url)
after(() => client.close())

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult
  const first = result.content[0]
  assert.ok(first?.type === 'text', 'a text result')
  return { isError: result.isError === true, body: JSON.parse(first.text) as Record<string, unknown> }
}

const patch = (extra: Record<string, unknown> = {}) => ({
  target: 'default',
  description: 'add a greeting over MCP',
  operations: [{ op: 'write', path: 'hello.txt', contents: 'hi\n' }],
  ...extra,
})

describe('MCP over Streamable HTTP at /mcp', () => {
  it('lists the five tools with the TypeBox input schemas', async () => {
    const { tools } = await client.listTools()
    assert.deepEqual(tools.map((t) => t.name).sort(), ['dispatch_patch', 'get_patch', 'health', 'list_patches', 'preview_patch'])
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    const dispatch = byName.dispatch_patch!.inputSchema as { title?: string; required?: string[]; properties: Record<string, { anyOf?: { title?: string }[] }> }
    assert.equal(dispatch.title, 'NativePatch')
    assert.deepEqual(dispatch.required, ['target', 'operations'])
    const ops = (dispatch.properties.operations as unknown as { items: { anyOf: { title: string }[] } }).items.anyOf.map((o) => o.title)
    assert.deepEqual(ops, ['WriteOp', 'ReplaceOp', 'InsertOp', 'DeleteOp', 'RenameOp', 'DiffOp', 'ApplyPatchOp'])
    assert.deepEqual(byName.get_patch!.inputSchema.required, ['id'])
    const statuses = (byName.list_patches!.inputSchema.properties!.status as { anyOf: { const: string }[] }).anyOf.map((s) => s.const)
    assert.deepEqual(statuses, ['queued', 'running', 'applied', 'failed', 'rejected', 'cancelled'])
    assert.equal(byName.get_patch!.annotations?.readOnlyHint, true)
  })

  it('tells an agent where a rejected patch shows how to fix it', () => {
    const instructions = client.getInstructions() ?? ''
    for (const words of ['CONTEXT_NOT_FOUND', 'error.regions', 'AMBIGUOUS_MATCH', 'error.candidates']) assert.ok(instructions.includes(words), words)
  })

  it('preview_patch answers with the diff or the rejection, and queues nothing', async () => {
    const before = (await app.store.list({ limit: 100 })).items.length
    const shown = await call(client, 'preview_patch', patch())
    assert.equal(shown.isError, false, JSON.stringify(shown.body))
    assert.deepEqual(shown.body.files, [{ path: 'hello.txt', status: 'added', additions: 1, deletions: 0 }])
    assert.match(shown.body.diff as string, /^\+hi$/m)
    const refused = await call(client, 'preview_patch', patch({ operations: [{ op: 'replace', path: 'README.md', find: 'not there', replace: 'x' }] }))
    assert.equal(refused.isError, true)
    assert.equal(refused.body.code, 'CONTEXT_NOT_FOUND')
    assert.equal(refused.body.path, 'README.md')
    assert.equal((await app.store.list({ limit: 100 })).items.length, before)
  })

  it('dispatch_patch queues a patch that get_patch and list_patches then find', async () => {
    const dispatched = await call(client, 'dispatch_patch', patch({ id: 'mcp-1' }))
    assert.equal(dispatched.isError, false, JSON.stringify(dispatched.body))
    assert.equal(dispatched.body.status, 'queued')
    assert.equal(dispatched.body.client_id, 'mcp-1')
    const id = dispatched.body.id as string
    assert.match(id, /^[A-Za-z0-9_-]+$/)

    const got = await call(client, 'get_patch', { id })
    assert.equal(got.isError, false)
    assert.equal(got.body.id, id)
    assert.equal(got.body.description, 'add a greeting over MCP')
    assert.deepEqual((got.body.events as { status: string }[]).map((e) => e.status), ['queued'])

    const listed = await call(client, 'list_patches', { status: 'queued', target: 'default', limit: 5 })
    assert.equal(listed.isError, false)
    assert.ok((listed.body.items as { id: string }[]).some((p) => p.id === id))

    // The webhook's idempotency applies: the same client id and body is the same patch.
    const again = await call(client, 'dispatch_patch', patch({ id: 'mcp-1' }))
    assert.equal(again.body.id, id)
  })

  it('a patch the webhook refuses is an error result carrying the problem document', async () => {
    const unknownTarget = await call(client, 'dispatch_patch', patch({ target: 'nowhere' }))
    assert.equal(unknownTarget.isError, true)
    assert.equal(unknownTarget.body.status, 422)
    assert.equal(unknownTarget.body.code, 'UNKNOWN_TARGET')

    const badOp = await call(client, 'dispatch_patch', patch({ operations: [{ op: 'write', path: 'x.txt' }] }))
    assert.equal(badOp.isError, true)
    assert.equal(badOp.body.code, 'VALIDATION_FAILED')
    assert.ok((badOp.body.errors as { pointer: string }[]).some((e) => e.pointer === '/operations/0/contents'), JSON.stringify(badOp.body))

    const legacy = await call(client, 'dispatch_patch', { id: 'v1', role: 'x', target_file: 'README.md', patch: { pattern: 'a', replacement: 'b' } })
    assert.equal(legacy.isError, true)
    assert.equal(legacy.body.code, 'VALIDATION_FAILED')
  })

  it('get_patch of an unknown id is NOT_FOUND; arguments outside the schema are VALIDATION_FAILED', async () => {
    const missing = await call(client, 'get_patch', { id: 'no-such-patch' })
    assert.equal(missing.isError, true)
    assert.equal(missing.body.code, 'NOT_FOUND')

    const badId = await call(client, 'get_patch', { id: '../etc/passwd' })
    assert.equal(badId.isError, true)
    assert.equal(badId.body.code, 'VALIDATION_FAILED')
    assert.equal((badId.body.errors as { pointer: string }[])[0]!.pointer, '/id')

    const badLimit = await call(client, 'list_patches', { limit: 1000 })
    assert.equal(badLimit.isError, true)
    assert.equal(badLimit.body.code, 'VALIDATION_FAILED')
  })

  it('health answers with the health report', async () => {
    const health = await call(client, 'health')
    const routed = await app.inject({ method: 'GET', url: '/health', headers: auth })
    assert.ok([200, 503].includes(routed.statusCode), routed.body)
    assert.equal(health.isError, false, 'an unhealthy report is still an answer')
    assert.ok(['healthy', 'degraded', 'unhealthy', 'unknown'].includes(health.body.overall_status as string), JSON.stringify(health.body))
    assert.deepEqual(Object.keys(health.body).sort(), Object.keys(routed.json()).sort())
  })

  it('refuses a caller without credentials (401) and one with a wrong token', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-a-valid-token-at-all' }] as Record<string, string>[]) {
      await assert.rejects(connect(url, headers), (err: unknown) => err instanceof StreamableHTTPError && err.code === 401)
    }
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    assert.equal(res.status, 401)
    assert.equal(((await res.json()) as { code: string }).code, 'UNAUTHORIZED')
  })

  it('MCP requests are timed under their route like any other', async () => {
    const metrics = (await app.inject({ method: 'GET', url: '/metrics', headers: auth })).body
    assert.match(metrics, /ghost_http_request_duration_seconds_count\{method="POST",route="\/mcp",status_code="200"\} [1-9]/)
  })

  it('GET and DELETE answer 405: there is no session or event stream', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(url, { method, headers: { ...auth, accept: 'text/event-stream' } })
      assert.equal(res.status, 405)
      assert.equal(res.headers.get('allow'), 'POST')
    }
  })
})

describe('MCP tools follow the credential\'s rights, as the routes they replay', () => {
  const as = async (token: string) => {
    const c = await connect(url, bearer(token))
    after(() => c.close())
    return c
  }

  it('dispatch_patch needs the dispatch right and a workspace in scope, and records the credential', async () => {
    const agent = await as(TOKENS.docsAgent)
    const ok = await call(agent, 'dispatch_patch', patchFor('docs'))
    assert.equal(ok.isError, false, JSON.stringify(ok.body))
    const got = await call(client, 'get_patch', { id: ok.body.id as string })
    assert.equal(got.body.submitted_by, 'docs-agent')

    for (const target of ['default', 'payments']) {
      const outside = await call(agent, 'dispatch_patch', patchFor(target))
      assert.equal(outside.isError, true)
      assert.deepEqual([outside.body.status, outside.body.code], [403, 'TARGET_FORBIDDEN'])
    }
    for (const token of [TOKENS.monitor, TOKENS.scraper]) {
      const refused = await call(await as(token), 'dispatch_patch', patchFor('docs'))
      assert.equal(refused.isError, true)
      assert.deepEqual([refused.body.status, refused.body.code], [403, 'FORBIDDEN'])
    }
  })

  it('get_patch and list_patches need the read right and see only what it reaches', async () => {
    const agent = await as(TOKENS.docsAgent)
    const mine = (await call(agent, 'dispatch_patch', patchFor('docs', { description: 'mine over MCP' }))).body.id as string
    const theirs = (await call(client, 'dispatch_patch', patchFor('docs', { description: 'theirs over MCP' }))).body.id as string

    assert.equal((await call(agent, 'get_patch', { id: mine })).isError, false)
    const hidden = await call(agent, 'get_patch', { id: theirs })
    assert.equal(hidden.isError, true)
    assert.deepEqual([hidden.body.status, hidden.body.code], [404, 'NOT_FOUND'])

    const listed = await call(agent, 'list_patches', { limit: 100 })
    const ids = (listed.body.items as { id: string; submitted_by: string }[]).map((p) => p.id)
    assert.ok(ids.includes(mine))
    assert.equal(ids.includes(theirs), false)
    assert.ok((listed.body.items as { submitted_by: string }[]).every((p) => p.submitted_by === 'docs-agent'))
    const forbiddenTarget = await call(agent, 'list_patches', { target: 'default' })
    assert.deepEqual([forbiddenTarget.body.status, forbiddenTarget.body.code], [403, 'TARGET_FORBIDDEN'])

    const monitor = await as(TOKENS.monitor)
    assert.equal((await call(monitor, 'get_patch', { id: theirs })).body.id, theirs)

    const scraper = await as(TOKENS.scraper)
    for (const [tool, args] of [['get_patch', { id: mine }], ['list_patches', {}]] as const) {
      const refused = await call(scraper, tool, args)
      assert.equal(refused.isError, true)
      assert.deepEqual([refused.body.status, refused.body.code], [403, 'FORBIDDEN'])
    }
    assert.equal((await call(scraper, 'health')).isError, false, 'health is public')
  })
})
