import assert from 'node:assert/strict'
import { it } from 'node:test'
import path from 'node:path'
import pg from 'pg'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { auth, tempDir, testApp } from '../helper.js'
import { SKIP, admin, freshSchema, openTestStore, terminateBackends, until } from '../store/postgres-fixtures.js'

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
    for (let round = 0; round < 3; round++) {
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
