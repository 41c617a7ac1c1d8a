// The growth scenario of `npm run bench`: costs as stored work grows, on both stores.
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import pg from 'pg'
import { median } from './load.js'
import { openPostgresStore } from '../src/store/postgres/index.js'
import { openSqliteStore } from '../src/store/sqlite/index.js'
import type { Store } from '../src/store/port.js'

export interface Proc { url: string }
export interface Harness {
  seconds: number
  token: string
  log: (s: string) => void
  /** A `serve` process on this data dir; `env` adds to (or replaces) its environment. */
  serve: (dataDir: string, env?: Record<string, string>) => Promise<Proc>
  stop: (p: Proc) => Promise<void>
  /** Accepted webhook requests per second over one load run. */
  webhookRps: (url: string) => Promise<number>
  load: (opts: autocannon.Options) => Promise<autocannon.Result>
}

export const postgresUrl = process.env.DATABASE_URL

const made: string[] = []

/** A schema of its own per run, so the figures start from an empty store; dropped at the end (dropBenchSchemas). */
export function benchSchema(): string {
  const schema = `bench_${randomBytes(5).toString('hex')}`
  made.push(schema)
  return schema
}

/**
 * Drops the schemas this run made: the database is shared (CI's), and the growth scenario's
 * schema alone holds its N stored patches, so runs left behind would pile up.
 */
export async function dropBenchSchemas(): Promise<void> {
  if (!postgresUrl || made.length === 0) return
  // A service of a failed run may still be connected: wait for its locks a while, not forever.
  const client = new pg.Client({ connectionString: postgresUrl, options: '-c lock_timeout=10s' })
  await client.connect()
  try {
    for (const schema of made.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
}

/**
 * Worst latency of /health/live, polled on its own connection while `work` runs: how long the
 * event loop was blocked (plus one trivial request).
 */
async function worstBlock(h: Harness, url: string, work: () => Promise<unknown>): Promise<number> {
  let worst = 0
  let polling = true
  const poll = (async () => {
    while (polling) {
      const t = performance.now()
      await fetch(`${url}/health/live`)
      worst = Math.max(worst, performance.now() - t)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  await work()
  polling = false
  await poll
  return worst
}

// One load run moves by ±10–30% from the next on a shared 2-core machine, and the machine's
// speed drifts over a minute: the two stores are measured in turns, the first of each pair
// alternating (a machine slowing down would otherwise count against whichever store always went
// second), and the ratio is the median of five pairs (of three, one slow run in a pair moved
// the figure by a tenth and more).
const RUNS = 5

/** The worst event-loop block while the filtered lists and `/metrics` are read, three times over. */
async function listsAndMetrics(h: Harness, url: string): Promise<number> {
  const headers = { authorization: `Bearer ${h.token}` }
  return worstBlock(h, url, async () => {
    for (let i = 0; i < 3; i++) {
      for (const q of ['status=applied&target=default', 'status=queued&target=default', 'target=default', 'status=failed']) await (await fetch(`${url}/patches?${q}&limit=50`, { headers })).text()
      await (await fetch(`${url}/metrics`, { headers })).text()
    }
  })
}

async function openFor(kind: 'sqlite' | 'postgres', dataDir: string, schema: string): Promise<Store> {
  return kind === 'sqlite'
    ? openSqliteStore({ file: join(dataDir, 'ghost-runner.db') })
    : openPostgresStore({ connectionString: postgresUrl!, schema })
}

/**
 * The fill leaves the server two debts that a store grown patch by patch never has at once:
 * - It writes about a gigabyte of WAL in a minute, which sets off a checkpoint the server spreads
 *   over minutes.
 * - It inserts a million rows (patches and their events) in one go, which sets autovacuum off on
 *   both tables right after. Grown by the day, the same store is vacuumed in small steps.
 * Measured right away, the webhook and the loop at size would share the two cores with that
 * catch-up (a few seconds here). The figures are what the stored size costs, so the fill's
 * vacuum and checkpoint end first. It needs a role that owns the tables and may CHECKPOINT;
 * without one the runs measure as before.
 */
async function settle(schema: string) {
  const client = new pg.Client({ connectionString: postgresUrl })
  const s = pg.escapeIdentifier(schema)
  try {
    await client.connect()
    await client.query(`VACUUM (ANALYZE) ${s}.patches, ${s}.events`)
    await client.query('CHECKPOINT')
  } catch {
    // not allowed, or unreachable: the runs that follow say what the store can do
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The webhook on an empty store against the same service on a store that holds `n` finished
 * patches (filled in bulk by the store itself, not over HTTP), both serving at once and loaded in
 * turns, so each pair of runs sees the machine in the same state; then the filtered lists and a
 * /metrics scrape on each.
 */
export async function growth(h: Harness, kind: 'sqlite' | 'postgres', dataDir: string, n: number, payload: string) {
  const side = (name: string) => {
    const schema = benchSchema()
    const dir = join(dataDir, name)
    mkdirSync(dir, { recursive: true })
    return { schema, dir, env: kind === 'postgres' ? { DATABASE_URL: postgresUrl!, GHOST_DATABASE_SCHEMA: schema } : ({} as Record<string, string>) }
  }
  const empty = side('empty')
  const grown = side('grown')
  const started = performance.now()
  const store = await openFor(kind, grown.dir, grown.schema)
  await store.fillHistory!({ target: 'default', count: n, status: 'applied', at: Date.now() - 86_400_000, payload })
  await store.close()
  h.log(`${kind}: stored ${n} patches in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  if (kind === 'postgres') {
    const t = performance.now()
    await settle(grown.schema)
    h.log(`postgres: the fill's vacuum and checkpoint took ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  const atZero = await h.serve(empty.dir, empty.env)
  const atN = await h.serve(grown.dir, grown.env)
  try {
    await h.webhookRps(atZero.url)
    await h.webhookRps(atN.url)
    const pairs: { zero: number; n: number }[] = []
    for (let i = 0; i < RUNS; i++) {
      if (i % 2 === 0) {
        const zero = await h.webhookRps(atZero.url)
        pairs.push({ zero, n: await h.webhookRps(atN.url) })
      } else {
        const n = await h.webhookRps(atN.url)
        pairs.push({ zero: await h.webhookRps(atZero.url), n })
      }
    }
    const ratio = median(pairs.map((p) => p.n / p.zero))
    const blockZero = await listsAndMetrics(h, atZero.url)
    const block = await listsAndMetrics(h, atN.url)
    h.log(`${kind} growth: webhook ${pairs.map((p) => `${p.zero.toFixed(0)} → ${p.n.toFixed(0)}`).join(', ')} req/s (empty → ${n} stored, in turns, each pair's first alternating); worst loop block ${blockZero.toFixed(0)} → ${block.toFixed(0)} ms`)
    return { ratio, block }
  } finally {
    await h.stop(atZero)
    await h.stop(atN)
  }
}
