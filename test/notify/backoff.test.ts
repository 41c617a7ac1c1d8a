import assert from 'node:assert/strict'
import { it } from 'node:test'
import { retryAfterMs, retryDelay } from '../../src/notify/backoff.js'
import { redactUrl, subscriptionsOf } from '../../src/notify/targets.js'

const S = { backoffMs: 1000, maxBackoffMs: 60_000 }

it('doubles the delay with each attempt, jittered by up to half, never shrinking, capped', () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, S, () => 0)), [1000, 2000, 4000, 8000])
  assert.deepEqual([1, 2, 3, 4].map((n) => retryDelay(n, S, () => 0.999999)), [1500, 3000, 6000, 12_000])
  for (let n = 1; n < 10; n++) assert.ok(retryDelay(n + 1, S, () => 0) >= retryDelay(n, S, () => 0.999999), `attempt ${n + 1} waits at least as long as ${n}`)
  assert.equal(retryDelay(20, S, () => 0.5), 60_000)
  const spread = new Set(Array.from({ length: 50 }, () => retryDelay(3, S)))
  assert.ok(spread.size > 10, 'real jitter spreads the retries')
  assert.ok([...spread].every((d) => d >= 4000 && d <= 6000))
})

it('reads Retry-After as seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  assert.equal(retryAfterMs('120', now), 120_000)
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000)
  assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:30 GMT', now), 0)
  assert.equal(retryAfterMs('soon', now), null)
  assert.equal(retryAfterMs(null, now), null)
})

it('shows destinations without credentials or query strings', () => {
  assert.equal(redactUrl('https://user:pass@hooks.example.com:8443/a/b?token=secret#x'), 'https://hooks.example.com:8443/a/b?…')
  assert.equal(redactUrl('http://127.0.0.1:9/hook'), 'http://127.0.0.1:9/hook')
  assert.deepEqual(
    subscriptionsOf({ notifications: [{ url: 'http://a/', secret: 'whsec_x', events: ['applied'] }, { url: 'http://b/', secret: 'whsec_y' }] }),
    [
      { url: 'http://a/', events: ['applied'] },
      { url: 'http://b/', events: null },
    ],
  )
})
