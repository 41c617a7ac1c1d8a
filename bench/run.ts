// `npm run bench [-- --quick]`: the service against a bare Fastify baseline, in the same run on
// the same machine, reported as ratios (absolute numbers move too much on shared machines).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { hostileScenario } from './hostile.js'
import { acknowledgedIds, codeCount, load, median, patchBody, postgresWebhookRequest, SECONDS, SECRET, signedRequest, webhookRequest } from './load.js'
import { openSqliteStore } from '../src/store/sqlite/index.js'
import { benchSchema, dropBenchSchemas, growth, postgresUrl, type Harness } from './scale.js'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 5
const RUNNER_PATCHES = quick ? 20 : 100
const QUEUED = 10_000
// Stored patches for the growth scenario.
const GROWTH = quick ? 30_000 : 300_000
const TOKEN = 'bench-token-0123456789abcdef'
const root = new URL('..', import.meta.url).pathname

const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`
const log = (s: string) => process.stderr.write(`${s}\n`)
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' }).toString()

interface Proc { child: ChildProcess; url: string; pid: number }

async function waitFor(url: string, child: ChildProcess) {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`process exited ${child.exitCode}`)
    try {
      if ((await fetch(url)).status < 500) return
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`${url} did not come up`)
}

async function startService(command: 'serve' | 'start', dataDir: string, workspace: string, port: number, limits: Record<string, number> = {}, extra: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(process.execPath, ['dist/src/cli.js', command], {
    cwd: root,
    env: {
      // The embedded SQLite store as shipped: a DATABASE_URL or GHOST_* setting of the calling
      // shell (CI sets one for the PostgreSQL tests) must not pick another store.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GHOST_') && k !== 'DATABASE_URL')),
      GHOST_PORT: String(port),
      GHOST_DATA_DIR: dataDir,
      GHOST_WEBHOOK_SECRETS: SECRET,
      GHOST_API_TOKENS: TOKEN,
      GHOST_CONFIG: writeConfig(dataDir, workspace, limits),
      LOG_LEVEL: 'warn',
      ...extra,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/health/ready`, child)
  // Readiness needs the first probe round; wait for it so health scenarios measure steady state.
  for (let i = 0; i < 200 && (await fetch(`${url}/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50))
  return { child, url, pid: child.pid! }
}

function writeConfig(dataDir: string, workspace: string, limits: Record<string, number>) {
  const file = join(dataDir, 'bench-config.json')
  writeFileSync(file, JSON.stringify({ workspaces: { default: { path: workspace } }, limits: { queueDepth: 1_000_000, ratePerMinute: 100_000_000, ...limits }, drainDelayMs: 0 }))
  return file
}

async function startBaseline(port: number): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/baseline.ts'], { cwd: root, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/baseline`, child)
  return { child, url, pid: child.pid! }
}

async function stop(p: Proc) {
  if (p.child.exitCode !== null) return
  const exited = once(p.child, 'exit')
  p.child.kill('SIGKILL')
  await exited
}

// Below Linux's ephemeral range (32768 and up by default): a port handed to one of the run's own
// outgoing connections (the load generator's, the database's) could not be listened on.
let nextPort = 10000 + Math.floor(Math.random() * 20000)
const port = () => nextPort++

function workspace(dir: string) {
  git(dir, 'init', '-q', '-b', 'main')
  writeFileSync(join(dir, 'README.md'), '# bench\n')
  git(dir, 'add', '-A')
  git(dir, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'init')
  return dir
}

async function main() {
  // The service as the package ships it (its `bin` is the compiled dist/), built from this tree:
  // the TypeScript loader `npm start` uses would add its own memory to every figure.
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  const tmp = mkdtempSync(join(tmpdir(), 'gr-bench-'))
  const results: Record<string, number> = {}
  // Figures that need PostgreSQL: null when DATABASE_URL is not set.
  const nulls: Record<string, number | null> = {}
  try {
    // 1 and 2: HTTP scenarios, service (`serve`, no runner competing for the CPU) vs baseline.
    const baseline = await startBaseline(port())
    const dataDir = join(tmp, 'http')
    const svc = await startService('serve', mkdirp(dataDir), workspace(mkdirp(join(tmp, 'ws-http'))), port())
    // The webhook on PostgreSQL, measured in the same rounds against the same bare POST.
    const pgSvc = postgresUrl ? await startService('serve', mkdirp(join(tmp, 'pg')), workspace(mkdirp(join(tmp, 'ws-pg'))), port(), {}, { DATABASE_URL: postgresUrl, GHOST_DATABASE_SCHEMA: benchSchema() }) : null
    const rps: Record<string, number[]> = { bare_get: [], health: [], ready: [], bare_post: [], webhook: [], webhook_postgres: [] }
    const p99: Record<string, number[]> = { health: [], ready: [], webhook: [] }
    let accepted = 0
    // Each measured run follows a second of the same load, unmeasured, so the figures are of the
    // steady state. Between its runs each server idles through the others' (about 40 s a round),
    // and V8 then shrinks its young generation: in the next run's first second the webhook took
    // 40–60% of the requests of each later second, through a burst of small scavenges until the
    // heap grew back (`--trace-gc`), the bare POST 85%. The first round also warms JIT and caches.
    const measure = async (opts: autocannon.Options) => ({ warmUp: await load({ ...opts, duration: 1 }), run: await load(opts) })
    for (let round = 0; round < ROUNDS; round++) {
      const bareGet = (await measure({ url: `${baseline.url}/baseline` })).run
      const health = (await measure({ url: `${svc.url}/health` })).run
      const ready = (await measure({ url: `${svc.url}/health/ready` })).run
      // The bare POST sits between the two webhooks, so each is measured back to back with it.
      const webhookPostgres = pgSvc ? (await measure({ url: `${pgSvc.url}/webhook`, method: 'POST', requests: [postgresWebhookRequest] })).run : null
      const barePost = (await measure({ url: `${baseline.url}/baseline`, method: 'POST', requests: [{ setupRequest: (r) => ({ ...r, ...signedRequest(), method: 'POST' }) }] })).run
      const { warmUp, run: webhook } = await measure({ url: `${svc.url}/webhook`, method: 'POST', requests: [webhookRequest] })
      accepted += codeCount(warmUp, 202) + codeCount(webhook, 202)
      rps.bare_get!.push(bareGet.requests.average)
      rps.health!.push(health.requests.average)
      rps.ready!.push(ready.requests.average)
      rps.bare_post!.push(barePost.requests.average)
      rps.webhook!.push(codeCount(webhook, 202) / SECONDS)
      if (webhookPostgres) rps.webhook_postgres!.push(codeCount(webhookPostgres, 202) / SECONDS)
      p99.health!.push(health.latency.p99)
      p99.ready!.push(ready.latency.p99)
      p99.webhook!.push(webhook.latency.p99)
      log(`round ${round + 1}/${ROUNDS}: bare GET ${bareGet.requests.average.toFixed(0)} /health ${health.requests.average.toFixed(0)} /ready ${ready.requests.average.toFixed(0)} bare POST ${barePost.requests.average.toFixed(0)} webhook ${(codeCount(webhook, 202) / SECONDS).toFixed(0)}${pgSvc ? ` postgres ${rps.webhook_postgres!.at(-1)!.toFixed(0)}` : ''} req/s (non-2xx ${webhook.non2xx}, errors ${webhook.errors})`)
    }
    for (const k of Object.keys(rps)) if (rps[k]!.length > 0) log(`${k}: median ${median(rps[k]!).toFixed(0)} req/s (${range(rps[k]!)})${p99[k] ? `, p99 ${median(p99[k]!)} ms` : ''}`)
    // Each ratio pairs measurements of the same round, so a slow spell of the machine lowers
    // both sides of one ratio instead of skewing one median against the other.
    const perRound = (a: string, b: string) => median(rps[a]!.map((x, i) => x / rps[b]![i]!))
    results.health_ratio = perRound('health', 'bare_get')
    results.ready_ratio = perRound('ready', 'bare_get')
    results.webhook_ratio = perRound('webhook', 'bare_post')
    nulls.webhook_ratio_postgres = pgSvc ? perRound('webhook_postgres', 'bare_post') : null
    // The two stores against each other, round by round: the same gateway work on both sides. The
    // ratios to the bare POST also carry how fast that POST is that day, which moved more between
    // days on these machines (medians 6,500–13,900 req/s) than either webhook did.
    nulls.webhook_postgres_vs_sqlite = pgSvc ? perRound('webhook_postgres', 'webhook') : null

    // 5: readiness while the webhook is saturated.
    const [, busy] = await Promise.all([
      load({ url: `${svc.url}/webhook`, method: 'POST', requests: [webhookRequest] }).then((r) => (accepted += codeCount(r, 202))),
      load({ url: `${svc.url}/health/ready`, connections: 2 }),
    ])
    results.ready_p99_busy_ms = busy.latency.p99
    await stop(svc)
    await stop(baseline)
    if (pgSvc) await stop(pgSvc)

    // Every 202 is durable: each acknowledged id is in the store. The store may hold a few more:
    // requests still in flight when a load run's clock stopped were stored, but their 202s were
    // not counted, at most one per connection per run (two a round, warm-up and measured, and the
    // one of scenario 5).
    const runs = 2 * ROUNDS + 1
    const store = await openSqliteStore({ file: join(dataDir, 'ghost-runner.db') })
    const stored = (await store.totals()).reduce((n, t) => (t.status === 'queued' ? n + t.reached : n), 0)
    const missing: string[] = []
    for (const id of acknowledgedIds) if (!(await store.get(id))) missing.push(id)
    await store.close()
    log(`webhook: ${accepted} acknowledged (${acknowledgedIds.size} ids seen), ${stored} stored, ${missing.length} missing`)
    if (missing.length > 0 || acknowledgedIds.size !== accepted) throw new Error(`${missing.length} acknowledged patches missing from the store`)
    if (stored - accepted > 50 * runs) throw new Error(`store holds ${stored} patches, more than the ${accepted} acknowledged plus those in flight`)

    // 4: memory with 10,000 queued patches.
    const memDir = mkdirp(join(tmp, 'mem'))
    const mem = await startService('serve', memDir, workspace(mkdirp(join(tmp, 'ws-mem'))), port())
    const r = await autocannon({ url: `${mem.url}/webhook`, connections: 20, amount: QUEUED, method: 'POST', requests: [webhookRequest] })
    if (codeCount(r, 202) !== QUEUED) throw new Error(`queued ${codeCount(r, 202)} of ${QUEUED}`)
    await new Promise((res) => setTimeout(res, 500))
    results.rss_mb_10k = rssMb(mem.pid)
    await stop(mem)

    // 6: costs as stored work grows.
    const h = harness(tmp)
    const grown = await growth(h, 'sqlite', mkdirp(join(tmp, 'growth')), GROWTH, patchBody(0))
    const grownPostgres = postgresUrl ? await growth(h, 'postgres', mkdirp(join(tmp, 'growth-pg')), GROWTH, patchBody(0)) : null
    results.webhook_growth_ratio = grown.ratio
    nulls.webhook_growth_ratio_postgres = grownPostgres?.ratio ?? null
    results.loop_block_at_size_ms = Math.max(grown.block, grownPostgres?.block ?? 0)

    // 3: runner throughput vs a plain git apply + git commit loop on the same diffs.
    results.runner_ratio = await runnerScenario(tmp)

    // 8: readiness while the runner works through hostile patches.
    const hostileWs = workspace(mkdirp(join(tmp, 'ws-hostile')))
    results.ready_p99_hostile_ms = await hostileScenario({
      quick,
      workspace: hostileWs,
      start: (limits) => startService('start', mkdirp(join(tmp, 'hostile')), hostileWs, port(), limits),
      stop,
      log,
    })
  } finally {
    await dropBenchSchemas().catch((err: unknown) => log(`could not drop the run's PostgreSQL schemas: ${String(err)}`))
    rmSync(tmp, { recursive: true, force: true })
  }
  const out = Object.fromEntries(Object.entries({ ...results, ...nulls }).map(([k, v]) => [k, v === null ? null : Math.round(v * 1000) / 1000]))
  writeFileSync(new URL('results.json', import.meta.url), JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

function harness(tmp: string): Harness {
  const ws = workspace(mkdirp(join(tmp, 'ws-scale')))
  const procs = new Map<string, Proc>()
  return {
    seconds: SECONDS,
    token: TOKEN,
    log,
    serve: async (dataDir, env = {}) => {
      const p = await startService('serve', dataDir, ws, port(), {}, env)
      procs.set(p.url, p)
      return p
    },
    stop: async (p) => stop(procs.get(p.url)!),
    webhookRps: async (url) => codeCount(await load({ url: `${url}/webhook`, method: 'POST', requests: [webhookRequest] }), 202) / SECONDS,
    load,
  }
}

function mkdirp(dir: string) {
  mkdirSync(dir, { recursive: true })
  return dir
}

function rssMb(pid: number) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return kb / 1024
}

/** Diffs of N small real commits, made once in a scratch repository. */
function makeDiffs(dir: string, n: number): string[] {
  workspace(dir)
  const diffs: string[] = []
  for (let i = 0; i < n; i++) {
    writeFileSync(join(dir, `file-${i % 10}.txt`), `line ${i}\n`.repeat(3 + (i % 5)))
    git(dir, 'add', '-A')
    git(dir, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', `c${i}`)
    diffs.push(git(dir, 'diff', 'HEAD~1', 'HEAD'))
  }
  return diffs
}

async function runnerScenario(tmp: string): Promise<number> {
  const diffs = makeDiffs(mkdirp(join(tmp, 'source')), RUNNER_PATCHES)

  // Raw git: apply and commit each diff in a scratch repository.
  const raw = workspace(mkdirp(join(tmp, 'raw')))
  const t0 = performance.now()
  for (const [i, d] of diffs.entries()) {
    const patchFile = join(tmp, 'p.diff')
    writeFileSync(patchFile, d)
    git(raw, 'apply', patchFile)
    git(raw, 'add', '-A')
    git(raw, '-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', `p${i}`)
  }
  const rawSeconds = (performance.now() - t0) / 1000

  // The service: the same diffs through the webhook, applied and committed by its runner.
  const ws = workspace(mkdirp(join(tmp, 'ws-runner')))
  const svc = await startService('start', mkdirp(join(tmp, 'runner')), ws, port())
  const t1 = performance.now()
  const ids: string[] = []
  for (const d of diffs) {
    const body = JSON.stringify({ target: 'default', operations: [{ op: 'diff', diff: d }] })
    const res = await fetch(`${svc.url}/webhook`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body })
    if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`)
    ids.push(((await res.json()) as { id: string }).id)
  }
  const last = ids[ids.length - 1]!
  for (;;) {
    const rec = (await (await fetch(`${svc.url}/patches/${last}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { status: string; error?: unknown }
    if (rec.status === 'applied') break
    if (rec.status !== 'queued' && rec.status !== 'running') throw new Error(`patch ended ${rec.status}: ${JSON.stringify(rec.error)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  const svcSeconds = (performance.now() - t1) / 1000
  await stop(svc)
  const commits = Number(git(ws, 'rev-list', '--count', 'HEAD').trim()) - 1
  if (commits !== RUNNER_PATCHES) throw new Error(`runner made ${commits} commits for ${RUNNER_PATCHES} patches`)
  log(`runner: ${(RUNNER_PATCHES / svcSeconds).toFixed(1)} patches/s; raw git ${(RUNNER_PATCHES / rawSeconds).toFixed(1)} patches/s`)
  return rawSeconds / svcSeconds
}

await main()
