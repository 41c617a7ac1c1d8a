import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import { parse } from 'yaml'
import { generateOpenApi } from '../../scripts/openapi-document.js'
import { testApp } from '../helpers/app.js'
import { OperationKinds } from '../../src/schemas/patch.js'

const committed = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')
type Json = Record<string, unknown>
type Operation = Json & { operationId: string; summary?: string; description?: string; security?: Json[]; parameters?: Json[]; responses: Record<string, Json> }
const doc = parse(committed) as Json & {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, { in?: string; name?: string }> }
}
const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })))

/** Every `$ref` target and every `title` in a subtree. */
function collect(node: unknown, out: { refs: string[]; titles: string[] } = { refs: [], titles: [] }, key = '') {
  if (Array.isArray(node)) for (const n of node) collect(n, out)
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.refs.push(v)
      else if (k === 'title' && typeof v === 'string' && key !== 'properties') out.titles.push(v)
      collect(v, out, k)
    }
  }
  return out
}

it('openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  assert.equal(committed, await generateOpenApi())
})

it('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  assert.equal(doc.openapi, '3.1.0')
  await SwaggerParser.validate(structuredClone(doc) as never)
})

it('GET /openapi.json serves openapi.yaml, whatever port the server listens on, apart from `servers`', async () => {
  const app = await testApp({ port: 4321 })
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(res.statusCode, 200)
  const served = res.json()
  assert.deepEqual(served.servers, [{ url: 'http://127.0.0.1:4321' }])
  assert.deepEqual({ ...served, servers: null }, { ...doc, servers: null })
})

it('every operation has an operationId, a short summary, tags, a description within GPT Actions\' limits and a schema for each response', () => {
  const ids = new Set<string>()
  for (const { where, op } of operations) {
    assert.ok(typeof op.operationId === 'string', `${where} operationId`)
    assert.ok(!ids.has(op.operationId), `${where} duplicate operationId`)
    ids.add(op.operationId)
    assert.ok(op.summary && op.summary.length <= 80, `${where} summary of at most 80 characters`)
    assert.ok((op.description ?? '').length <= 300, `${where} description is ${op.description?.length} characters; GPT Actions take 300 (move the rest to the README)`)
    for (const p of op.parameters ?? []) assert.ok(String(p.description ?? '').length <= 700, `${where} parameter ${String(p.name)} description over 700 characters`)
    assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${where} tags`)
    for (const [status, res] of Object.entries(op.responses)) {
      const schemas = Object.values((res.content ?? {}) as Record<string, { schema?: unknown }>).map((c) => c.schema)
      assert.ok(schemas.length > 0 && schemas.every(Boolean), `${where} ${status} has a schema`)
    }
  }
  assert.ok(ids.size >= 10, `expected the API's operations, found ${[...ids].join(', ')}`)
})

it('named schemas are components referenced by $ref, none left inline, none unused', () => {
  const fromPaths = collect(doc.paths)
  assert.deepEqual(fromPaths.titles, [], 'a titled schema inline in an operation')
  for (const name of ['Problem', 'PatchRecord', 'PatchSummary', 'PatchStatus', 'PatchDetail', 'Operation', 'NativePatch', 'LegacyV1Patch', 'LegacyV2Patch', 'PatchPayload', 'Health', 'HealthUnavailable', 'HealthCheckDraft', 'HealthCheckDraftUnavailable', 'PatchStreamEvent', 'PatchStreamMessage']) {
    assert.ok(doc.components.schemas[name], `components.schemas.${name}`)
  }
  const refs = new Set(collect(doc).refs)
  for (const name of Object.keys(doc.components.schemas)) assert.ok(refs.has(`#/components/schemas/${name}`), `${name} is referenced`)
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const inner = collect({ ...schema, title: undefined })
    assert.deepEqual(inner.titles, [], `${name} holds another named schema inline`)
  }
  const problemRefs = collect(doc.paths).refs.filter((r) => r === '#/components/schemas/Problem').length
  assert.ok(problemRefs >= 25, `problem responses reference Problem (${problemRefs})`)
})

it('operations are a oneOf discriminated on `op`, mapping every kind the server validates', () => {
  const operation = doc.components.schemas.Operation as { oneOf: { $ref: string }[]; discriminator: { propertyName: string; mapping: Record<string, string> } }
  assert.equal(operation.discriminator.propertyName, 'op')
  assert.deepEqual(Object.keys(operation.discriminator.mapping).sort(), Object.keys(OperationKinds).sort())
  for (const [kind, ref] of Object.entries(operation.discriminator.mapping)) {
    assert.ok(operation.oneOf.some((m) => m.$ref === ref), `${kind} is a oneOf member`)
    const target = doc.components.schemas[ref.split('/').pop()!] as { properties: { op: { enum: string[] } }; required: string[] }
    assert.deepEqual(target.properties.op.enum, [kind])
    assert.ok(target.required.includes('op'))
  }
})

it('headers are declared: Retry-After on every 429 and 503, Location on 200/202 of POST /webhook, signatures as a security scheme', () => {
  for (const { where, op } of operations) {
    for (const status of ['429', '503']) {
      const res = op.responses[status] as { headers?: Record<string, { required?: boolean }> } | undefined
      if (res) assert.equal(res.headers?.['Retry-After']?.required, true, `${where} ${status} Retry-After`)
    }
  }
  const webhook = doc.paths['/webhook']!.post!
  for (const status of ['200', '202']) assert.equal((webhook.responses[status]!.headers as Json & { Location: { required: boolean } }).Location.required, true)
  assert.ok((webhook.responses['202']!.headers as Json)['X-RateLimit-Remaining'])
  assert.deepEqual(webhook.security, [{ bearerAuth: [] }, { webhookId: [], webhookTimestamp: [], webhookSignature: [] }])
  const schemes = doc.components.securitySchemes
  assert.deepEqual(['webhookId', 'webhookTimestamp', 'webhookSignature'].map((s) => schemes[s]?.name), ['webhook-id', 'webhook-timestamp', 'webhook-signature'])
  // webhook-id is the signature scheme's header, so it is not repeated as a parameter.
  const headerParams = (webhook.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name)
  assert.deepEqual(headerParams, ['idempotency-key'])
  const lastEventId = doc.paths['/patches/{id}/events']!.get!.parameters!.find((p) => p.in === 'header')
  assert.equal(lastEventId?.name, 'last-event-id')
})

it('every operation states its security: bearer tokens, or none for the public ones', () => {
  const publicOps = new Set(['getOpenApi', 'getHealthLive', 'getHealthStartup', 'getHealthReady'])
  for (const { where, op } of operations) {
    assert.ok(Array.isArray(op.security), `${where} states security`)
    if (publicOps.has(op.operationId)) assert.deepEqual(op.security, [], `${where} is public`)
    else if (op.operationId === 'getHealth') assert.deepEqual(op.security, [{}, { bearerAuth: [] }], 'a token is optional on /health')
    else assert.ok(op.security!.some((s) => 'bearerAuth' in s), `${where} takes a bearer token`)
  }
})

it('query parameters with a default are optional (GET /patches limit)', () => {
  for (const { where, op } of operations) {
    for (const p of op.parameters ?? []) {
      if ((p.schema as Json | undefined)?.default !== undefined) assert.notEqual(p.required, true, `${where} ${String(p.name)} has a default`)
    }
  }
  const limit = doc.paths['/patches']!.get!.parameters!.find((p) => p.name === 'limit')
  assert.equal(limit?.required, false)
})

it('the port probe is described by pattern: any port_<port>_bound key fits the health schemas', () => {
  const components = doc.components.schemas.HealthComponents as { required: string[]; additionalProperties: { description: string } }
  assert.ok(!components.required.some((k) => /^port_/.test(k)), 'no port is named')
  assert.match(components.additionalProperties.description, /port_<port>_bound/)
})
