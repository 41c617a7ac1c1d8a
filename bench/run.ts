// `npm run bench [-- --quick]`: the service against a bare Fastify baseline, in the same run on
// the same machine, reported as ratios (absolute numbers move too much on shared machines).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import Database from 'better-sqlite3'
import { sign } from '../src/auth/webhook-signature.js'

const quick = process.argv.includes('--quick')
const ROUNDS = quick ? 3 : 5
const SECONDS = quick ? 1.5 : 8
const RUNNER_PATCHES = quick ? 20 : 100
const QUEUED = 10_000
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const TOKEN = 'bench-token-0123456789abcdef'
const root = new URL('..', import.meta.url).pathname

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
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

async function startService(command: 'serve' | 'start', dataDir: string, workspace: string, port: number): Promise<Proc> {
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
      GHOST_CONFIG: writeConfig(dataDir, workspace),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/health/ready`, child)
  // Readiness needs the first probe round; wait for it so health scenarios measure steady state.
  for (let i = 0; i < 200 && (await fetch(`${url}/health/ready`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50))
  return { child, url, pid: child.pid! }
}

function writeConfig(dataDir: string, workspace: string) {
  const file = join(dataDir, 'bench-config.json')
  writeFileSync(file, JSON.stringify({ workspaces: { default: { path: workspace } }, limits: { queueDepth: 1_000_000, ratePerMinute: 100_000_000 }, drainDelayMs: 0 }))
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

let nextPort = 20000 + Math.floor(Math.random() * 20000)
const port = () => nextPort++

/** A realistic patch of a few KB with several operations, unique per call. */
function patchBody(n: number) {
  const filler = Array.from({ length: 40 }, (_, i) => `export const value${i} = ${i * n} // generated line ${i}`).join('\n')
  return JSON.stringify({
    target: 'default',
    description: `bench patch ${n}`,
    operations: [
      { op: 'write', path: `src/gen/file-${n % 50}.ts`, contents: `${filler}\n` },
      { op: 'replace', path: 'README.md', find: 'bench', replace: 'Bench', count: 1 },
      { op: 'insert', path: 'README.md', contents: `\n- entry ${n}\n`, after: '# Bench' },
      { op: 'diff', diff: `diff --git a/notes-${n}.txt b/notes-${n}.txt\nnew file mode 100644\n--- /dev/null\n+++ b/notes-${n}.txt\n@@ -0,0 +1,2 @@\n+note ${n}\n+done\n` },
    ],
    metadata: { agent: 'bench', run: n },
  })
}

/** Ids the service acknowledged with 202, collected from the response bodies. */
const acknowledgedIds = new Set<string>()
const webhookRequest = {
  setupRequest: (r: autocannon.Request) => ({ ...r, ...signedRequest(), method: 'POST' as const }),
  onResponse: (status: number, body: string) => {
    if (status === 202) acknowledgedIds.add((JSON.parse(body) as { id: string }).id)
  },
}

let seq = 0
function signedRequest(): { body: string; headers: Record<string, string> } {
  const body = patchBody(seq++)
  const id = `msg_bench_${process.pid}_${seq}`
  const ts = Math.floor(Date.now() / 1000)
  return { body, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sign(SECRET, id, ts, body) } }
}

async function load(opts: autocannon.Options) {
  return autocannon({ connections: 50, duration: SECONDS, ...opts })
}

const codeCount = (r: autocannon.Result, code: number) => (r.statusCodeStats as Record<string, { count: number }> | undefined)?.[code]?.count ?? 0

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
  try {
    // 1 and 2: HTTP scenarios, service (`serve`, no runner competing for the CPU) vs baseline.
    const baseline = await startBaseline(port())
    const dataDir = join(tmp, 'http')
    const svc = await startService('serve', mkdirp(dataDir), workspace(mkdirp(join(tmp, 'ws-http'))), port())
    const rps: Record<string, number[]> = { bare_get: [], health: [], ready: [], bare_post: [], webhook: [] }
    const p99: Record<string, number[]> = { health: [], ready: [], webhook: [] }
    let accepted = 0
    // Warm-up: JIT and caches on both sides.
    await load({ url: `${baseline.url}/baseline`, duration: 1 })
    await load({ url: `${svc.url}/health`, duration: 1 })
    for (let round = 0; round < ROUNDS; round++) {
      const bareGet = await load({ url: `${baseline.url}/baseline` })
      const health = await load({ url: `${svc.url}/health` })
      const ready = await load({ url: `${svc.url}/health/ready` })
      const barePost = await load({ url: `${baseline.url}/baseline`, method: 'POST', requests: [{ setupRequest: (r) => ({ ...r, ...signedRequest(), method: 'POST' }) }] })
      const webhook = await load({ url: `${svc.url}/webhook`, method: 'POST', requests: [webhookRequest] })
      accepted += codeCount(webhook, 202)
      rps.bare_get!.push(bareGet.requests.average)
      rps.health!.push(health.requests.average)
      rps.ready!.push(ready.requests.average)
      rps.bare_post!.push(barePost.requests.average)
      rps.webhook!.push(codeCount(webhook, 202) / SECONDS)
      p99.health!.push(health.latency.p99)
      p99.ready!.push(ready.latency.p99)
      p99.webhook!.push(webhook.latency.p99)
      log(`round ${round + 1}/${ROUNDS}: bare GET ${bareGet.requests.average.toFixed(0)} /health ${health.requests.average.toFixed(0)} /ready ${ready.requests.average.toFixed(0)} bare POST ${barePost.requests.average.toFixed(0)} webhook ${(codeCount(webhook, 202) / SECONDS).toFixed(0)} req/s (non-2xx ${webhook.non2xx}, errors ${webhook.errors})`)
    }
    for (const k of Object.keys(rps)) log(`${k}: median ${median(rps[k]!).toFixed(0)} req/s (${range(rps[k]!)})${p99[k] ? `, p99 ${median(p99[k]!)} ms` : ''}`)
    // Each ratio pairs measurements of the same round, so a slow spell of the machine lowers
    // both sides of one ratio instead of skewing one median against the other.
    const perRound = (a: string, b: string) => median(rps[a]!.map((x, i) => x / rps[b]![i]!))
    results.health_ratio = perRound('health', 'bare_get')
    results.ready_ratio = perRound('ready', 'bare_get')
    results.webhook_ratio = perRound('webhook', 'bare_post')

    // 5: readiness while the webhook is saturated.
    const [, busy] = await Promise.all([
      load({ url: `${svc.url}/webhook`, method: 'POST', requests: [webhookRequest] }).then((r) => (accepted += codeCount(r, 202))),
      load({ url: `${svc.url}/health/ready`, connections: 2 }),
    ])
    results.ready_p99_busy_ms = busy.latency.p99
    await stop(svc)
    await stop(baseline)

    // Every 202 is durable: each acknowledged id is in the store. The store may hold a few more:
    // requests still in flight when a load run's clock stopped were stored, but their 202s were
    // not counted, at most one per connection per run.
    const db = new Database(join(dataDir, 'ghost-runner.db'), { readonly: true })
    const stored = (db.prepare('SELECT count(*) AS n FROM patches').get() as { n: number }).n
    const has = db.prepare('SELECT 1 FROM patches WHERE id = ?')
    const missing = [...acknowledgedIds].filter((id) => !has.get(id))
    db.close()
    log(`webhook: ${accepted} acknowledged (${acknowledgedIds.size} ids seen), ${stored} stored, ${missing.length} missing`)
    if (missing.length > 0 || acknowledgedIds.size !== accepted) throw new Error(`${missing.length} acknowledged patches missing from the store`)
    if (stored - accepted > 50 * (ROUNDS + 1)) throw new Error(`store holds ${stored} patches, more than the ${accepted} acknowledged plus those in flight`)

    // 4: memory with 10,000 queued patches.
    const memDir = mkdirp(join(tmp, 'mem'))
    const mem = await startService('serve', memDir, workspace(mkdirp(join(tmp, 'ws-mem'))), port())
    const r = await autocannon({ url: `${mem.url}/webhook`, connections: 20, amount: QUEUED, method: 'POST', requests: [webhookRequest] })
    if (codeCount(r, 202) !== QUEUED) throw new Error(`queued ${codeCount(r, 202)} of ${QUEUED}`)
    await new Promise((res) => setTimeout(res, 500))
    results.rss_mb_10k = rssMb(mem.pid)
    await stop(mem)

    // 3: runner throughput vs a plain git apply + git commit loop on the same diffs.
    results.runner_ratio = await runnerScenario(tmp)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const out = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v * 1000) / 1000]))
  writeFileSync(new URL('results.json', import.meta.url), JSON.stringify(out, null, 2) + '\n')
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

function mkdirp(dir: string) {
  execFileSync('mkdir', ['-p', dir])
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
