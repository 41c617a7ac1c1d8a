import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { before, describe, it } from 'node:test'
import { UI_CSP, UI_DIR } from '../../src/routes/ui.js'
import { testApp } from '../helpers/app.js'
import { buildUi } from '../helpers/ui-build.js'

describe('GET /ui', () => {
  before(() => buildUi({ onlyIfMissing: true }))

  it('redirects /ui to /ui/, where the page is served without credentials under a strict CSP', async () => {
    const app = await testApp()
    const bare = await app.inject({ url: '/ui' })
    assert.equal(bare.statusCode, 301)
    assert.equal(bare.headers.location, '/ui/')

    // As a browser asks for it: the index is sent compressed too.
    const compressed = await app.inject({ url: '/ui/', headers: { 'accept-encoding': 'gzip, deflate, br' } })
    assert.equal(compressed.statusCode, 200)
    assert.equal(compressed.headers['content-encoding'], 'br')
    const res = await app.inject({ url: '/ui/' })
    assert.equal(res.statusCode, 200)
    assert.match(res.headers['content-type'] as string, /^text\/html/)
    assert.equal(res.headers['content-security-policy'], UI_CSP)
    assert.match(UI_CSP, /script-src 'self';/)
    assert.doesNotMatch(UI_CSP, /unsafe|https?:|\*/, 'no inline code, no eval, no other origin')
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['referrer-policy'], 'no-referrer')
    assert.equal(res.headers['cache-control'], 'no-cache')

    // Every script is a file of the page's own; nothing is fetched from elsewhere.
    const scripts = [...res.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    assert.equal(scripts.length, 1)
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="app-[A-Z0-9]+\.js"/)
      assert.equal(body, '')
    }
    const refs = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    assert.deepEqual(refs.filter((r) => /^[a-z]+:|^\/\//i.test(r)), [], 'no absolute URL in the page')
    assert.equal(refs.length, 3)
    for (const ref of refs) {
      const asset = await app.inject({ url: `/ui/${ref}`, headers: { 'accept-encoding': 'br, gzip' } })
      assert.equal(asset.statusCode, 200, ref)
      assert.equal(asset.headers['content-security-policy'], UI_CSP)
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable', ref)
      assert.equal(asset.headers['content-encoding'], 'br', `${ref} is sent compressed`)
    }
  })

  it('serves only the files of the build: nothing above it, and 404 problem+json for what is not there', async () => {
    const app = await testApp()
    assert.ok(readdirSync(UI_DIR).includes('index.html'))
    for (const url of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json', '/ui/missing.js']) {
      const res = await app.inject({ url })
      assert.ok(res.statusCode === 404 || res.statusCode === 403, `${url}: ${res.statusCode}`)
      assert.doesNotMatch(res.body, /"name": "ghost-runner"/)
    }
    const missing = await app.inject({ url: '/ui/missing.js' })
    assert.equal(missing.statusCode, 404)
    assert.match(missing.headers['content-type'] as string, /^application\/problem\+json/)
  })

  it("adds nothing to other routes' answers: health carries none of the page's headers", async () => {
    const app = await testApp()
    const res = await app.inject({ url: '/health' })
    assert.equal(res.headers['content-security-policy'], undefined)
    assert.equal(res.headers['referrer-policy'], undefined)
  })
})
