import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Dispatcher } from '../../src/notify/dispatcher.js'
import { defineConfig } from '../../src/config.js'
import { input } from '../store/inputs.js'
import { SKIP, freshSchema, openTestStore } from '../store/postgres-fixtures.js'
import { tempDir } from '../helpers/app.js'
import { receiver } from './receiver.js'

const SECRET = 'whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMzQ1Njc4OQ=='
const silent = { debug() {}, info() {}, warn() {}, error() {} }

describe('notifications on a shared PostgreSQL outbox', { skip: SKIP }, () => {
  it('gateways sharing the outbox send each delivery once', async () => {
    let open = 0
    let overlapped = false
    // Slow answers, so that both dispatchers are busy at once.
    const hook = await receiver(() => {
      open += 1
      if (open > 1) overlapped = true
      setTimeout(() => (open -= 1), 20)
      return { status: 200, delayMs: 20 }
    })
    const config = defineConfig({
      dataDir: tempDir(),
      notifications: [{ url: hook.url, secret: SECRET, events: ['queued'] }],
      notify: { timeoutMs: 2000, maxAttempts: 3, backoffMs: 50, maxBackoffMs: 1000, pollMs: 10, concurrency: 1 },
    })
    const schema = freshSchema()
    const [s1, s2] = [await openTestStore(schema), await openTestStore(schema)]
    after(() => Promise.all([s1.close(), s2.close()]))
    const subs = [{ url: hook.url, events: ['queued' as const] }]
    s1.setSubscriptions(subs)
    s2.setSubscriptions(subs)
    const total = 40
    await Promise.all(Array.from({ length: total }, (_, i) => (i % 2 ? s1 : s2).enqueue(input(`t${i % 5}`))))
    const dispatchers = [s1, s2].map((store, i) => new Dispatcher({ store, config, log: silent, id: `gateway-${i}` }))
    for (const d of dispatchers) d.start()
    try {
      await hook.waitFor(total, 20_000)
      await new Promise((r) => setTimeout(r, 200))
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()))
    }
    const ids = hook.received.map((r) => String(r.headers['webhook-id']))
    assert.equal(ids.length, total, 'no delivery sent twice')
    assert.equal(new Set(ids).size, total)
    // One request at a time per dispatcher: overlapping requests came from both.
    assert.ok(overlapped, 'both dispatchers sent at the same time')
    const page = await s1.list({ limit: 100 })
    const states = (await Promise.all(page.items.map((p) => s2.deliveries(p.id)))).flat()
    assert.equal(states.length, total)
    assert.ok(states.every((d) => d.state === 'delivered' && d.attempts === 1))
  })
})
