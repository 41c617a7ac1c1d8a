import { it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import { parse } from 'yaml'
import { generateOpenApi } from './openapi-document.js'

const committed = readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')

it('openapi.yaml is what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
  assert.equal(committed, await generateOpenApi())
})

it('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const doc = parse(committed)
  assert.equal(doc.openapi, '3.1.0')
  await SwaggerParser.validate(structuredClone(doc))
})

it('every operation has an operationId, summary, tags and a schema for each response', () => {
  const doc = parse(committed)
  const ids = new Set<string>()
  for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      assert.ok(typeof op.operationId === 'string', `${where} operationId`)
      assert.ok(!ids.has(op.operationId as string), `${where} duplicate operationId`)
      ids.add(op.operationId as string)
      assert.ok(op.summary, `${where} summary`)
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${where} tags`)
      const responses = op.responses as Record<string, { content?: Record<string, { schema?: unknown }> }>
      assert.ok(Object.keys(responses).length > 0, `${where} responses`)
      for (const [status, res] of Object.entries(responses)) {
        const schemas = Object.values(res.content ?? {}).map((c) => c.schema)
        assert.ok(schemas.length > 0 && schemas.every(Boolean), `${where} ${status} has a schema`)
      }
    }
  }
  assert.ok(ids.size >= 8, `expected the API's operations, found ${[...ids].join(', ')}`)
})
