import assert from 'node:assert/strict'
import { it } from 'node:test'
import path from 'node:path'
import pg from 'pg'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { auth, tempDir, testApp } from '../helpers/app.js'
import { DATABASE_URL, SKIP, admin, freshSchema, openTestStore, terminateBackends, until } from '../store/postgres-fixtures.js'
import { TcpProxy } from '../store/tcp-proxy.js'

const DEADLINE_MS = 1000
// Timers fire late on a loaded machine; the bound is the deadline, this only absorbs that.
const SLACK_MS = 1500

const patch = (n: number) => ({ target: 'default', description: `p${n}`, operations: [{ op: 'write', path: `f${n}.txt`, contents: `${n}\n` }] })

it('with its PostgreSQL connections killed mid-traffic the API answers 503 STORE_UNAVAILABLE (never 500), recovers after reconnecting, and leaves nothing half-written', { skip: SKIP, timeout: 60_000 }, async () => {
  const schema = freshSchema()
  const store = await openTestStore(schema, { poolSize: 4 })
  const db = await admin()
  try {
    const app = await testApp({ limits: { queueDepth: 100_000, ratePerMinute: 1_000_000 } }, { store })
    const statuses = new Map<number, number>()
    const bad: string[] = []
    const accepted: string[] = []
    let running = true
    let n = 0
    const client = async () => {
      while (running) {
        const i = n++
        const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(i) })
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode === 202) accepted.push(res.json().id)
        else if (res.statusCode !== 503 || res.json().code !== 'STORE_UNAVAILABLE' || !(Number(res.headers['retry-after']) > 0)) bad.push(`POST ${res.statusCode} ${res.body}`)
        const id = accepted[Math.floor(Math.random() * accepted.length)]
        if (id === undefined) continue
        const read = await app.inject({ method: 'GET', url: `/patches/${id}`, headers: auth })
        if (read.statusCode !== 200 && (read.statusCode !== 503 || read.json().code !== 'STORE_UNAVAILABLE')) bad.push(`GET ${read.statusCode} ${read.body}`)
      }
    }
    const traffic = Array.from({ length: 4 }, client)
    let killed = 0
    // A connection killed while idle is replaced unseen; kill on until one was busy.
    for (let round = 0; round < 3 || ((statuses.get(503) ?? 0) === 0 && round < 100); round++) {
      const before = accepted.length
      await until(() => accepted.length >= before + 10, 'traffic before the kill', 15_000)
      killed += await terminateBackends(db, schema)
    }
    const afterKills = accepted.length
    await until(() => accepted.length >= afterKills + 20, 'accepted patches after the kills', 15_000)
    running = false
    await Promise.all(traffic)

    assert.ok(killed >= 3, `terminated ${killed} backends`)
    assert.deepEqual(bad, [], 'every failure is a clean 503 STORE_UNAVAILABLE with Retry-After')
    assert.ok((statuses.get(503) ?? 0) > 0, `the kills were felt: ${JSON.stringify([...statuses])}`)

    // Recovered: a clean round succeeds.
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: patch(100_000 + i) })
      assert.equal(res.statusCode, 202, res.body)
      accepted.push(res.json().id)
    }
    // Nothing half-written: every acknowledged patch is there with its queued event, and no row
    // lacks the event its transaction wrote with it.
    for (const id of accepted) assert.ok(await store.get(id), `${id} acknowledged but not stored`)
    const s = pg.escapeIdentifier(schema)
    const orphans = await db.query(`SELECT count(*)::int AS n FROM ${s}.patches p WHERE NOT EXISTS (SELECT 1 FROM ${s}.events e WHERE e.patch_id = p.id)`)
    assert.equal(orphans.rows[0].n, 0)
    const rows = await db.query(`SELECT count(*)::int AS n FROM ${s}.patches`)
    assert.ok(rows.rows[0].n >= accepted.length)
  } finally {
    await store.close()
  }
})

it('with its store gone (closed under it) every route answers 503 STORE_UNAVAILABLE, never 500', async () => {
  const store = await openSqliteStore({ file: path.join(tempDir(), 'ghost-runner.db') })
  const app = await testApp({}, { store })
  await store.close()
  for (const [method, url, payload] of [['POST', '/webhook', patch(1)], ['GET', '/patches/pt_x'], ['GET', '/patches'], ['POST', '/patches/pt_x/cancel']] as const) {
    const res = await app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) })
    assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`)
    assert.equal(res.json().code, 'STORE_UNAVAILABLE')
    assert.doesNotMatch(res.body, /database|sqlite/i, 'a 5xx hides internals')
  }
})

// A stalled network or a stopped middlebox: bytes stop both ways, connections stay open. Every
// request must still be answered within the store's deadline, and a patch refused with a 503
// that names no patch must not be stored afterwards behind the client's back, when the link thaws.
it('with the PostgreSQL link frozen, /webhook answers 503 STORE_UNAVAILABLE with Retry-After within the deadline, and nothing it refused is stored after the link thaws', { skip: SKIP, timeout: 60_000 }, async () => {
  const { hostname, port } = new URL(DATABASE_URL!)
  const proxy = await TcpProxy.start(hostname, Number(port || 5432))
  const schema = freshSchema()
  const store = await openTestStore(schema, { connectionString: proxy.url(DATABASE_URL!), poolSize: 4, deadlineMs: DEADLINE_MS })
  const db = await admin()
  try {
    const app = await testApp({ limits: { queueDepth: 100_000, ratePerMinute: 1_000_000 } }, { store })
    const post = (n: number, key = `k-${n}`) => app.inject({ method: 'POST', url: '/webhook', headers: { ...auth, 'idempotency-key': key }, payload: patch(n) })
    for (let i = 0; i < 3; i++) assert.equal((await post(i)).statusCode, 202)

    proxy.freeze()
    const started = Date.now()
    const answers = await Promise.all([...[10, 11, 12, 13].map((n) => post(n)), app.inject({ method: 'GET', url: '/patches', headers: auth })])
    const tookMs = Date.now() - started
    for (const res of answers) {
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.json().code, 'STORE_UNAVAILABLE')
      assert.ok(Number(res.headers['retry-after']) > 0)
      assert.doesNotMatch(res.body, /postgres|timeout|ECONN/i, 'a 5xx hides internals')
    }
    // The queue-depth read and the insert each have the whole deadline at most.
    assert.ok(tookMs < 2 * DEADLINE_MS + SLACK_MS, `answered after ${tookMs} ms`)

    proxy.thaw()
    for (let i = 0; (await post(100 + i)).statusCode !== 202; i++) assert.ok(i < 20, 'no recovery after the link thawed')
    await new Promise((r) => setTimeout(r, 1000))
    // A 503 that names a patch was sent before the link froze: that patch may be stored, and the
    // retry the 503 asks for tells which. A 503 that names none stored nothing, then or later.
    const named = (res: (typeof answers)[number]) => /patch (pt_[A-Za-z0-9_-]+)/.exec(res.json().detail ?? '')?.[1]
    const refused = [10, 11, 12, 13].filter((n, i) => named(answers[i]!) === undefined).map((n) => `key:k-${n}`)
    const late = await db.query(`SELECT idempotency_key FROM ${pg.escapeIdentifier(schema)}.patches WHERE idempotency_key = ANY($1)`, [refused])
    assert.deepEqual(late.rows, [], 'a patch answered 503 was stored later')
    for (const [i, n] of [10, 11, 12, 13].entries()) {
      const id = named(answers[i]!)
      if (id === undefined) continue
      const again = await post(n)
      assert.ok(again.statusCode === 200 ? again.json().id === id : again.statusCode === 202, again.body)
    }

    // The statement reached the database and committed but its answer did not: the 503 names
    // the patch and says how to find out; the retry it asks for returns the stored patch.
    proxy.holdRepliesAfter('f200.txt')
    const uncertain = await post(200)
    assert.equal(uncertain.statusCode, 503, uncertain.body)
    const id = named(uncertain)
    assert.ok(id, `the 503 names the patch: ${uncertain.body}`)
    proxy.thaw()
    const retried = await post(200)
    assert.equal(retried.statusCode, 200, retried.body)
    assert.equal(retried.json().id, id)
  } finally {
    proxy.thaw()
    await store.close()
    await proxy.close()
  }
})
