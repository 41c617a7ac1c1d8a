import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { secretKey, verify, type SignatureHeaders } from '../../src/auth/webhook-signature.js'
import type { Config } from '../../src/config.js'
import type { NotificationPayload, PatchDetail } from '../../src/schemas/notification.js'
import { subscriptionsOf } from '../../src/notify/targets.js'
import { openStore } from '../../src/store/open.js'
import { auth, testApp, testConfig } from '../helpers/app.js'
import { deadUrl, receiver, until, type Received } from './receiver.js'

const NOTIFY_SECRET = 'whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMzQ1Njc4OQ=='
const OTHER_SECRET = 'whsec_c29tZW9uZS1lbHNlcy1zZWNyZXQtMDEyMzQ1Njc4OQ=='
const FAST = { timeoutMs: 2000, maxAttempts: 5, backoffMs: 100, maxBackoffMs: 10_000, pollMs: 10, concurrency: 4 }

type App = Awaited<ReturnType<typeof testApp>>

const write = (name: string) => ({ target: 'default', description: `write ${name}`, operations: [{ op: 'write', path: `${name}.txt`, contents: `${name}\n` }] })

async function submit(app: App, name: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: write(name) })
  assert.equal(res.statusCode, 202, res.body)
  return (res.json() as { id: string }).id
}

async function detail(app: App, id: string): Promise<PatchDetail> {
  const res = await app.inject({ method: 'GET', url: `/patches/${id}`, headers: auth })
  assert.equal(res.statusCode, 200, res.body)
  return res.json()
}

const verifies = (r: Received, secret: string) => verify([secretKey(secret)], r.headers as SignatureHeaders, r.body)
const payload = (r: Received) => JSON.parse(r.body.toString('utf8')) as NotificationPayload

function notifyConfig(url: string, over: Partial<Config['notify']> = {}, events?: Config['notifications'][number]['events']): Partial<Config> {
  return { notifications: [{ url, secret: NOTIFY_SECRET, ...(events ? { events } : {}) }], notify: { ...FAST, ...over } }
}

describe('outbound notifications', () => {
  it('posts every status change signed with Standard Webhooks headers, in order, and shows it on the patch', async () => {
    const hook = await receiver()
    const app = await testApp(notifyConfig(`${hook.url}?token=do-not-show`), { runner: true })
    const id = await submit(app, 'a')
    const got = await hook.waitFor(3)

    for (const r of got) {
      assert.equal(verifies(r, NOTIFY_SECRET), null, 'verifies with the configured secret')
      assert.equal(verifies(r, OTHER_SECRET), 'NO_MATCHING_SIGNATURE')
      assert.equal(r.headers['content-type'], 'application/json')
      assert.match(String(r.headers['webhook-id']), /^msg_[0-9a-f]{32}$/)
    }
    const bodies = got.map(payload)
    assert.deepEqual(bodies.map((b) => b.type), ['patch.queued', 'patch.running', 'patch.applied'])
    assert.deepEqual(bodies.map((b) => [b.data.id, b.data.target, b.data.status, b.data.reason]), [
      [id, 'default', 'queued', 'enqueued'],
      [id, 'default', 'running', 'claimed'],
      [id, 'default', 'applied', 'completed'],
    ])
    assert.ok(bodies.every((b) => !Number.isNaN(Date.parse(b.timestamp))))
    assert.deepEqual(bodies[2]?.data.links, { self: `/patches/${id}` })

    await until(async () => (await detail(app, id)).notifications.every((n) => n.state === 'delivered'), 'delivered states')
    const record = await detail(app, id)
    assert.equal(record.status, 'applied')
    assert.equal(bodies[2]?.data.commit, record.result?.commit)
    assert.ok(bodies[2]?.data.commit)
    assert.deepEqual(
      record.notifications.map((n) => [n.id, n.event, n.state, n.attempts, n.last_status, n.last_error, n.next_attempt_at, n.url]),
      got.map((r, i) => [r.headers['webhook-id'], bodies[i]?.data.status, 'delivered', 1, 200, null, null, `${hook.url}?…`]),
    )
    const raw = JSON.stringify(record)
    assert.ok(!raw.includes('do-not-show') && !raw.includes(NOTIFY_SECRET), 'no query token or secret in the record')
    assert.equal(hook.received.length, 3, 'each delivery sent once')
  })

  it('retries a receiver answering 500 twice, then 200: three attempts, growing delays, one webhook-id', async () => {
    const hook = await receiver((n) => (n < 2 ? 500 : 200))
    const app = await testApp(notifyConfig(hook.url, { backoffMs: 200 }, ['applied']), { runner: true })
    const id = await submit(app, 'b')
    await until(async () => (await detail(app, id)).notifications[0]?.last_status === 500, 'a first failed attempt')
    const retrying = (await detail(app, id)).notifications[0]
    assert.equal(retrying?.state, 'pending')
    assert.equal(retrying?.last_error, 'HTTP 500')
    assert.ok(retrying?.next_attempt_at, 'the next attempt is scheduled')

    const [a1, a2, a3] = await hook.waitFor(3)
    assert.ok(a1 && a2 && a3)
    const ids = new Set([a1, a2, a3].map((r) => r.headers['webhook-id']))
    assert.equal(ids.size, 1, 'every attempt carries the same webhook-id')
    assert.ok([a1, a2, a3].every((r) => verifies(r, NOTIFY_SECRET) === null))
    assert.ok([a2, a3].every((r) => r.body.equals(a1.body)), 'every attempt sends the same body')
    const gap1 = a2.at - a1.at
    const gap2 = a3.at - a2.at
    // backoffMs 200: the first retry waits 200–300 ms, the second 400–600 ms.
    assert.ok(gap1 >= 195, `first retry after ${gap1} ms`)
    assert.ok(gap2 >= 395, `second retry after ${gap2} ms`)
    assert.ok(gap2 > gap1, `delays grow: ${gap1} then ${gap2} ms`)

    await until(async () => (await detail(app, id)).notifications[0]?.state === 'delivered', 'delivered')
    const [n] = (await detail(app, id)).notifications
    assert.deepEqual([n?.event, n?.attempts, n?.last_status, n?.last_error, n?.next_attempt_at], ['applied', 3, 200, null, null])
    assert.equal(hook.received.length, 3)
  })

  it('a dead receiver ends failed after maxAttempts, while the runner keeps applying patches', async () => {
    const url = await deadUrl()
    const app = await testApp(notifyConfig(url, { maxAttempts: 3, backoffMs: 50 }), { runner: true })
    const ids = [await submit(app, 'c1'), await submit(app, 'c2'), await submit(app, 'c3')]
    await until(async () => (await Promise.all(ids.map((id) => detail(app, id)))).every((r) => r.status === 'applied'), 'patches applied', 20_000)
    await until(
      async () => (await Promise.all(ids.map((id) => detail(app, id)))).every((r) => r.notifications.length === 3 && r.notifications.every((n) => n.state === 'failed')),
      'every delivery failed',
      20_000,
    )
    for (const id of ids) {
      for (const n of (await detail(app, id)).notifications) {
        assert.deepEqual([n.state, n.attempts, n.last_status, n.next_attempt_at], ['failed', 3, null, null])
        assert.match(n.last_error ?? '', /ECONNREFUSED/)
      }
    }
  })

  it('times out a receiver that never answers, without holding up the runner', async () => {
    const hook = await receiver(() => 'hang')
    // A 2 s timeout makes a 5 s delivery lease (2 × timeout + 1 s). A lease that passes before
    // its attempt is recorded lets the delivery be claimed again, an extra attempt: with 300 ms a
    // loaded CI machine recorded one 1.6 s after its claim, and with 1 s one past its 3 s lease.
    const config = testConfig(notifyConfig(hook.url, { timeoutMs: 2000, maxAttempts: 2, backoffMs: 20 }, ['queued']))
    const app = await testApp(config, { runner: true })
    const ids = [await submit(app, 'd1'), await submit(app, 'd2')]
    await until(async () => (await Promise.all(ids.map((id) => detail(app, id)))).every((r) => r.status === 'applied'), 'patches applied', 20_000)
    await until(async () => (await Promise.all(ids.map((id) => detail(app, id)))).every((r) => r.notifications[0]?.state === 'failed'), 'deliveries failed')
    for (const id of ids) {
      const [n] = (await detail(app, id)).notifications
      assert.deepEqual([n?.attempts, n?.last_status, n?.last_error], [2, null, 'timed out after 2000 ms'])
    }
    assert.equal(hook.received.length, 4)
  })

  it('keeps deliveries across a restart: the next process sends what the last one recorded', async () => {
    const hook = await receiver()
    const config = testConfig(notifyConfig(hook.url))
    // No dispatcher: a process that records the changes and stops before sending anything.
    const store = await openStore(config, { subscriptions: subscriptionsOf(config) })
    const { record } = await store.enqueue({ id: 'p_restart', idempotencyKey: null, bodyHash: 'h', patch: { target: 'default', client_id: 'c-1', format: 'native', description: 'x', operations: [], checks: [], commit: {}, metadata: {} } })
    await store.cancel(record.id, 'cancelled_by_client')
    const recorded = await store.deliveries(record.id)
    await store.close()
    assert.deepEqual(recorded.map((d) => [d.event, d.state]), [['queued', 'pending'], ['cancelled', 'pending']])
    assert.equal(hook.received.length, 0)

    const app = await testApp(config)
    const got = await hook.waitFor(2)
    assert.deepEqual(got.map((r) => r.headers['webhook-id']), recorded.map((d) => d.id))
    assert.deepEqual(got.map((r) => [payload(r).type, payload(r).data.client_id, payload(r).data.reason]), [
      ['patch.queued', 'c-1', 'enqueued'],
      ['patch.cancelled', 'c-1', 'cancelled_by_client'],
    ])
    await until(async () => (await detail(app, record.id)).notifications.every((n) => n.state === 'delivered'), 'delivered')
  })

  it('sends URL credentials as Basic authorization, never follows a redirect, and shows neither', async () => {
    const elsewhere = await receiver()
    const hook = await receiver(() => ({ status: 302, headers: { location: elsewhere.url } }))
    const withCredentials = hook.url.replace('http://', 'http://ci-user:p%40ss@')
    const app = await testApp(notifyConfig(withCredentials, { maxAttempts: 2, backoffMs: 20 }, ['queued']))
    const id = await submit(app, 'f')
    await until(async () => (await detail(app, id)).notifications[0]?.state === 'failed', 'failed')
    assert.equal(hook.received.length, 2)
    assert.ok(hook.received.every((r) => r.headers.authorization === `Basic ${Buffer.from('ci-user:p@ss').toString('base64')}`))
    assert.equal(elsewhere.received.length, 0, 'the redirect was not followed')
    const record = await detail(app, id)
    assert.deepEqual(
      record.notifications.map((n) => [n.url, n.state, n.attempts, n.last_status, n.last_error]),
      [[hook.url, 'failed', 2, 302, 'HTTP 302 (redirects are not followed)']],
    )
    assert.ok(!JSON.stringify(record).includes('p%40ss') && !JSON.stringify(record).includes('ci-user'))
  })

  it('never holds up the runner: a patch applies while its first notification hangs; shutdown interrupts it', async () => {
    const hook = await receiver(() => 'hang')
    const config = testConfig(notifyConfig(hook.url, { timeoutMs: 30_000 }))
    const store = await openStore(config)
    const app = await testApp(config, { store, runner: true })
    const id = await submit(app, 'e')
    await until(async () => (await detail(app, id)).status === 'applied', 'the patch applied', 20_000)
    assert.equal(hook.received.length, 1, 'the queued notification is still in flight; the later ones wait behind it')
    const started = Date.now()
    await app.close()
    assert.ok(Date.now() - started < 5000, 'close does not wait for the request deadline')
    const ds = await store.deliveries(id)
    await store.close()
    assert.deepEqual(ds.map((n) => [n.event, n.state, n.attempts, n.last_error]), [
      ['queued', 'pending', 0, 'interrupted by shutdown'],
      ['running', 'pending', 0, null],
      ['applied', 'pending', 0, null],
    ])
    assert.ok(ds[0]?.next_attempt_at && Date.parse(ds[0].next_attempt_at) <= Date.now(), 'due again at once')
  })
})
