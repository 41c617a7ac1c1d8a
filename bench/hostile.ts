// The hostile-runner scenario of `npm run bench`: readiness while the runner plans patches
// built to stall it. Every answer must be 200; the p99 is held to the ready_p99_busy_ms target.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'

const TOKEN = 'bench-token-0123456789abcdef'
/** Shorter than the default 10 s, so the scenario ends sooner; the regex patches run into it. */
const BUDGET_MS = 2000

interface Proc {
  child: ChildProcess
  url: string
  pid: number
}

export interface HostileRig {
  quick: boolean
  /** A committed git repository the service's workspace `default` points at. */
  workspace: string
  /** Starts the service with its runner (`start`) and these top-level `limits`. */
  start: (limits: Record<string, number>) => Promise<Proc>
  stop: (p: Proc) => Promise<void>
  log: (s: string) => void
}

/** Load on `url` until `done` settles. */
function loadUntil(opts: autocannon.Options, done: Promise<unknown>): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ duration: 3600, ...opts }, (err, result) => (err ? reject(err as Error) : resolve(result)))
    void done.finally(() => instance.stop())
  })
}

/** Patches built to stall a planner: 199 backtracking regexes, and a replace that would turn 1 MB into 200 MB. */
function hostilePatch(n: number) {
  const operations =
    n % 2 === 0
      ? Array.from({ length: 199 }, () => ({ op: 'replace', path: 'slow.txt', find: '(a+)+b|!', replace: '!', regex: true }))
      : [{ op: 'replace', path: 'big.txt', find: 'a', replace: 'b'.repeat(200) }]
  return JSON.stringify({ target: 'default', description: `hostile ${n}`, operations })
}

/** Polls the patches until each has settled; their error codes. */
async function settle(url: string, ids: string[]): Promise<string[]> {
  const headers = { authorization: `Bearer ${TOKEN}` }
  const codes: string[] = []
  for (const id of ids) {
    for (;;) {
      const rec = (await (await fetch(`${url}/patches/${id}`, { headers })).json()) as { status: string; error?: { code: string } }
      if (rec.status !== 'queued' && rec.status !== 'running') {
        codes.push(`${rec.status} ${rec.error?.code ?? ''}`.trim())
        break
      }
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  return codes
}

/**
 * The runner (`start`) plans hostile patches while /health/ready is polled: every answer must
 * be 200, and each patch rejected, the regexes at their budget, the replace for its size.
 */
export async function hostileScenario({ quick, workspace: ws, start, stop, log }: HostileRig): Promise<number> {
  writeFileSync(join(ws, 'slow.txt'), `${'a'.repeat(25)}!\n`)
  writeFileSync(join(ws, 'big.txt'), 'a'.repeat(1024 * 1024))
  execFileSync('git', ['add', '-A'], { cwd: ws })
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-q', '-m', 'hostile targets'], { cwd: ws })
  const svc = await start({ planBudgetMs: BUDGET_MS })
  const ids: string[] = []
  for (let n = 0; n < (quick ? 4 : 10); n++) {
    const res = await fetch(`${svc.url}/webhook`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: hostilePatch(n) })
    if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`)
    ids.push(((await res.json()) as { id: string }).id)
  }
  const settled = settle(svc.url, ids)
  const ready = await loadUntil({ url: `${svc.url}/health/ready`, connections: 2 }, settled)
  const codes = await settled
  await stop(svc)
  // A regex patch meets its budget, or on a very slow machine one regex meets its own 500 ms limit first.
  const expected = ids.map((_, n) => (n % 2 === 0 ? /^rejected (PLAN|REGEX)_TIMEOUT$/ : /^rejected PATCH_TOO_LARGE$/))
  log(`hostile: ${ready.requests.total} readiness answers (non-2xx ${ready.non2xx}, errors ${ready.errors}), p99 ${ready.latency.p99} ms; patches ${codes.join(', ')}`)
  if (codes.some((c, n) => !expected[n]!.test(c))) throw new Error(`hostile patches ended ${codes.join(', ')}`)
  if (ready.non2xx > 0 || ready.errors > 0 || ready.timeouts > 0) throw new Error(`readiness failed while the runner planned hostile patches: non-2xx ${ready.non2xx}, errors ${ready.errors}, timeouts ${ready.timeouts}`)
  return ready.latency.p99
}

