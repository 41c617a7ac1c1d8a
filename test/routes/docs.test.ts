import { it } from 'node:test'
import assert from 'node:assert/strict'
import { testApp } from '../helpers/app.js'

it('/docs serves the Swagger UI page, its static assets and the OpenAPI document, without credentials', async () => {
  const app = await testApp()

  const page = await app.inject({ method: 'GET', url: '/docs/' })
  assert.equal(page.statusCode, 200)
  assert.match(String(page.headers['content-type']), /^text\/html/)
  assert.match(page.body, /<div id="swagger-ui">/)

  // The bundle and stylesheet are files on disk, sent by @fastify/static.
  const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
  assert.equal(bundle.statusCode, 200)
  assert.match(String(bundle.headers['content-type']), /javascript/)
  assert.ok(bundle.rawPayload.length > 100_000, `bundle is ${bundle.rawPayload.length} bytes`)
  const css = await app.inject({ method: 'GET', url: '/docs/static/index.css' })
  assert.equal(css.statusCode, 200)
  assert.match(String(css.headers['content-type']), /^text\/css/)

  const missing = await app.inject({ method: 'GET', url: '/docs/static/no-such-file.js' })
  assert.equal(missing.statusCode, 404)

  const doc = await app.inject({ method: 'GET', url: '/docs/json' })
  assert.equal(doc.statusCode, 200)
  assert.equal(doc.json().openapi, '3.1.0')
})
