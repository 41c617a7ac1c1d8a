// With a few hundred thousand patches stored, /metrics, every list filter and the queue cap
// answer without blocking the event loop: readiness, polled from outside the whole time, stays
// 200. A call that blocked for longer than eventLoopFailMs (1 s) would turn it 503 (http_responsive).
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { tempDir } from '../helpers/git.js'
import { spawnService, serviceToken } from '../helpers/process.js'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import { openPostgresStore } from '../../src/store/postgres/index.js'
import type { Store } from '../../src/store/port.js'
import { DATABASE_URL, freshSchema } from '../store/postgres-fixtures.js'
import { stop } from './cluster.js'

const APPLIED = Number(process.env.HISTORY_PATCHES ?? 250_000)
const FAILED = Math.round(APPLIED / 5)
const CAP = 30
const PAYLOAD = JSON.stringify({ target: 'x', operations: [{ op: 'write', path: 'a.txt', contents: 'x'.repeat(300) }] })

async function fill(store: Store) {
  const at = Date.now() - 3_600_000
  await store.fillHistory!({ target: 'default', count: APPLIED, status: 'applied', at, payload: PAYLOAD })
  await store.fillHistory!({ target: 'other', count: FAILED, status: 'failed', at, payload: PAYLOAD })
}

function scenario(kind: 'sqlite' | 'postgres') {
  return async () => {
    const dir = tempDir('gr-history-')
    const token = serviceToken()
    const env: Record<string, string> = { GHOST_API_TOKENS: token, GHOST_DATA_DIR: dir, GHOST_CONFIG: path.join(dir, 'config.json') }
    let store: Store
    if (kind === 'sqlite') store = await openSqliteStore({ file: path.join(dir, 'ghost-runner.db') })
    else {
      const schema = freshSchema()
      Object.assign(env, { DATABASE_URL: DATABASE_URL!, GHOST_DATABASE_SCHEMA: schema })
      store = await openPostgresStore({ connectionString: DATABASE_URL!, schema })
    }
    await fill(store)
    await store.close()
    writeFileSync(
      env.GHOST_CONFIG!,
      JSON.stringify({
        workspaces: { default: { path: path.join(dir, 'ws') }, other: { path: path.join(dir, 'ws2') } },
        limits: { queueDepth: CAP, ratePerMinute: 100_000 },
        // The default limit: a block that long would take the instance out of its load balancer.
        // (A tighter one also caught a neighbouring test file's CPU burst on the shared cores.)
        health: { eventLoopFailMs: 1000 },
      }),
    )
    const svc = await spawnService('serve', env, { timeoutMs: 60_000 })
    const headers = { authorization: `Bearer ${token}` }
    // Readiness says only that it is not ready; the full health body says which probe failed.
    const failingChecks = async () => {
      const body = (await (await fetch(`${svc.url}/health`, { headers }).catch(() => null))?.json().catch(() => null)) as { checks?: Record<string, { status: string }> } | null
      return JSON.stringify(Object.entries(body?.checks ?? {}).filter(([, c]) => c.status !== 'pass'))
    }
    const ready: number[] = []
    const why: string[] = []
    let polling = true
    let poller: Promise<void> = Promise.resolve()
    try {
      for (let i = 0; (await fetch(`${svc.url}/health/ready`)).status !== 200; i++) {
        assert.ok(i < 400, `never ready:\n${svc.output().slice(-3000)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      poller = (async () => {
        while (polling) {
          const res = await fetch(`${svc.url}/health/ready`).catch(() => null)
          ready.push(res?.status ?? -1)
          if (res && res.status !== 200) why.push(`${await res.text()} ${await failingChecks()}`)
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      const get = async (url: string) => {
        const res = await fetch(`${svc.url}${url}`, { headers })
        assert.equal(res.status, 200, `${url}: ${res.status}`)
        return res
      }
      // The queue cap: CAP patches are accepted, the next is refused.
      const post = (n: number) =>
        fetch(`${svc.url}/webhook`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'default', operations: [{ op: 'delete', path: `f${n}` }] }) })
      for (let n = 0; n < CAP; n++) assert.equal((await post(n)).status, 202)
      await new Promise((r) => setTimeout(r, 600)) // past the cap's refresh interval: the next count comes from the store
      const refused = await post(CAP)
      assert.equal(refused.status, 503)
      assert.equal(((await refused.json()) as { code: string }).code, 'QUEUE_FULL')

      const metrics = await (await get('/metrics')).text()
      assert.match(metrics, new RegExp(`ghost_patches_accepted_total\\{target="default"\\} ${APPLIED + CAP}\\n`))
      assert.match(metrics, new RegExp(`ghost_patches_finished_total\\{target="other",status="failed"\\} ${FAILED}\\n`))
      assert.match(metrics, new RegExp(`ghost_queue_depth\\{target="default"\\} ${CAP}\\n`))
      for (const q of ['', 'status=applied', 'status=queued', 'target=default', 'target=other', 'status=applied&target=default', 'status=queued&target=default', 'status=failed&target=other', 'status=failed&target=default']) {
        const page = (await (await get(`/patches?${q}&limit=50`)).json()) as { items: { status: string }[]; next_cursor: string | null }
        if (page.next_cursor) await get(`/patches?${q}&limit=50&cursor=${page.next_cursor}`)
        if (q.includes('status=queued')) assert.equal(page.items.length, CAP > 50 ? 50 : CAP)
      }
      for (let i = 0; i < 3; i++) await get('/metrics')
      await get('/queues')
      await new Promise((r) => setTimeout(r, 4500)) // two probe rounds: a block would show by now
      polling = false
      await poller
      assert.ok(ready.length > 20, `only ${ready.length} readiness polls`)
      assert.deepEqual(ready.filter((s) => s !== 200), [], `readiness flapped: ${why.slice(0, 2).join('\n')}`)
    } finally {
      polling = false
      await poller
      await stop(svc.child, 'SIGKILL').catch(() => null)
    }
  }
}

describe(`${APPLIED + FAILED} stored patches`, () => {
  // Filling the store is most of the time: on a small machine PostgreSQL takes a minute or more
  // for the 300,000 patches, longer while another test file shares the two cores.
  it('SQLite: /metrics, every list filter and the queue cap keep readiness green', { timeout: 300_000 }, scenario('sqlite'))
  it('PostgreSQL: the same', { timeout: 300_000, skip: DATABASE_URL ? false : 'DATABASE_URL is not set' }, scenario('postgres'))
})
