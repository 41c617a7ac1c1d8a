import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config, WorkspaceConfig } from '../../config.js'
import type { Operation } from '../../schemas/patch.js'
import type { PatchPreview } from '../../schemas/preview.js'
import type { PatchError } from '../../schemas/record.js'
import { RejectError, type RejectCode } from './errors.js'
import type { PlanJob } from './plan-process.js'
import { DEFAULT_SIZE_LIMITS, type SizeLimits } from './size-limits.js'
import type { FileChange, FileState } from './types.js'

// Planning a patch (regexes, V4A matching, diff parsing, building file contents) is work a patch
// controls, so it never runs on the event loop that serves HTTP: it runs in a planner process.
// A process rather than a worker thread: a thread's resourceLimits are best-effort, and one
// large allocation in it can still abort the whole service (nodejs/node#47224), while a planner
// that runs out of heap or is killed takes nothing else with it. Rather than the runner's git
// helper (spawner-process.ts): that one is kept tiny on purpose, as every git command forks it.
// Planners are kept for the next patch, so a process starts once, not once per patch.

export const DEFAULT_PLAN_BUDGET_MS = 10_000
const MiB = 1024 * 1024

export interface PlanInWorkerOptions extends Partial<SizeLimits> {
  /** Wall-clock time the patch may be planned for; past it the planner is killed: PLAN_TIMEOUT. */
  budgetMs?: number
  /** Wall-clock limit of each regex replace: REGEX_TIMEOUT. */
  regexTimeoutMs?: number
  /** The planner's heap; past it the planner dies: PLAN_OUT_OF_MEMORY. Default 128 MiB + 4 × maxPatchBytes. */
  heapMb?: number
}

/** The limits a workspace's patches are planned under, from the configuration. */
export function planLimits(config: Pick<Config, 'limits'>, ws: Pick<WorkspaceConfig, 'limits'>): PlanInWorkerOptions {
  return { budgetMs: config.limits.planBudgetMs, maxFileBytes: ws.limits.fileSizeMb * MiB, maxPatchBytes: config.limits.patchWriteMb * MiB }
}

/** How long a preview's diff may take once the patch is planned; its own limits end it well before. */
const DIFF_BUDGET_MS = 10_000

type Answer = { changes: FileChange[] } | { preview: PatchPreview }
type Reply =
  | { ready: true }
  | { id: number; planned: true }
  | ({ id: number; ok: true } & Answer)
  | { id: number; ok: false; reject: PatchError }
  | { id: number; ok: false; error: string }

interface Planner {
  child: ChildProcess
  heapMb: number
  /** Where its diffs make their scratch trees; removed when it goes, however it went. */
  scratchDir: string
  /** The end of what it wrote to stderr: how it died, when it dies. */
  stderr: string
  idleTimer?: NodeJS.Timeout
}

const compiled = !import.meta.url.endsWith('.ts')
const entry = fileURLToPath(new URL(`./plan-process.${compiled ? 'js' : 'ts'}`, import.meta.url))
// Resolved here, so the planner finds the TypeScript loader whatever directory the service runs in.
const loader = compiled ? [] : ['--import', import.meta.resolve('tsx')]
/** Only what node and git need: a planner never sees the service's tokens, secrets or database URL. */
const PASSED = ['PATH', 'TMPDIR', 'LANG', 'LC_ALL'] as const
/** A planner left idle this long exits; at most MAX_IDLE wait for the next patch. */
const IDLE_MS = 30_000
const MAX_IDLE = 4
const idle: Planner[] = []
let nextJob = 0

/** A started planner, ready for a patch. */
async function startPlanner(heapMb: number): Promise<Planner> {
  const scratchDir = await mkdtemp(path.join(os.tmpdir(), 'ghost-plan-'))
  const env = Object.fromEntries(PASSED.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]])))
  // detached: a process group of its own, so a stop signal sent to the service's group does
  // not cut a patch the service is still finishing (plan-process.ts leaves with the service).
  const child = fork(entry, [scratchDir], { execArgv: [...loader, `--max-old-space-size=${heapMb}`], env, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true })
  const planner: Planner = { child, heapMb, scratchDir, stderr: '' }
  // The planner removes it as it leaves; this covers one that was killed.
  child.once('exit', () => void rm(scratchDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {}))
  child.stderr?.on('data', (chunk: Buffer) => (planner.stderr = (planner.stderr + chunk.toString('utf8')).slice(-4096)))
  // An unusable planner surfaces as 'exit' (or a failed send).
  child.on('error', () => {})
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`the planner process did not start (${signal ?? code}): ${planner.stderr.trim().split('\n').pop() ?? ''}`))
    child.once('exit', onExit)
    child.once('message', () => {
      child.off('exit', onExit)
      // One that dies while idle is simply not reused.
      child.once('exit', () => forget(planner))
      resolve(planner)
    })
  })
}

function forget(planner: Planner): void {
  const at = idle.indexOf(planner)
  if (at !== -1) idle.splice(at, 1)
  clearTimeout(planner.idleTimer)
}

function acquire(heapMb: number): Promise<Planner> {
  const at = idle.findIndex((p) => p.heapMb === heapMb && p.child.connected)
  if (at === -1) return startPlanner(heapMb)
  const [planner] = idle.splice(at, 1)
  clearTimeout(planner!.idleTimer)
  return Promise.resolve(planner!)
}

/** Whether the planner (its process, IPC channel and stderr pipe) keeps this process alive. */
function hold({ child }: Planner, busy: boolean): void {
  const stderr = child.stderr as (NodeJS.ReadableStream & { ref?: () => void; unref?: () => void }) | null
  if (busy) {
    child.ref()
    child.channel?.ref()
    stderr?.ref?.()
  } else {
    child.unref()
    child.channel?.unref()
    stderr?.unref?.()
  }
}

/** Back to the pool, holding nothing open while it waits. */
function release(planner: Planner): void {
  if (idle.length >= MAX_IDLE || !planner.child.connected) {
    planner.child.kill('SIGKILL')
    return
  }
  hold(planner, false)
  planner.idleTimer = setTimeout(() => planner.child.kill('SIGKILL'), IDLE_MS).unref()
  idle.push(planner)
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
// Buffers cross the process boundary as plain Uint8Arrays.
const fromWire = (state: FileState | null): FileState | null => (state === null ? null : { contents: asBuffer(state.contents), mode: state.mode })

function rejected(reply: PatchError): RejectError {
  const { code, message, ...info } = reply
  return new RejectError(code as RejectCode, message, info)
}

/** How a planner that died mid-patch is reported: its heap, or anything else. */
function died(planner: Planner, code: number | null, signal: string | null): RejectError {
  if (/heap out of memory|Allocation failed|Invalid (string|array buffer) length/i.test(planner.stderr)) {
    return new RejectError('PLAN_OUT_OF_MEMORY', `planning the patch needed more than the planner's ${planner.heapMb} MB of memory; it was stopped`)
  }
  return new RejectError('PLAN_CRASHED', `the planner process died (${signal ?? `exit ${code}`}) before the patch was planned`)
}

/**
 * Plans one patch on `planner` within `budgetMs` (a preview's diff then gets DIFF_BUDGET_MS of
 * its own); a planner killed or lost is not reused.
 */
function runJob(planner: Planner, job: Omit<PlanJob, 'id'>, budgetMs: number): Promise<Answer> {
  const { child } = planner
  const id = ++nextJob
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (reusable: boolean, outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      child.off('message', onMessage).off('exit', onExit)
      if (reusable) release(planner)
      else child.kill('SIGKILL')
      outcome()
    }
    const onMessage = (reply: Reply) => {
      if ('ready' in reply || reply.id !== id) return
      if ('planned' in reply) {
        clearTimeout(timer)
        timer = stopAfter(DIFF_BUDGET_MS, `working out the preview's diff took longer than ${DIFF_BUDGET_MS} ms; it was stopped`)
        return
      }
      if (reply.ok) finish(true, () => resolve(reply))
      else if ('reject' in reply) finish(true, () => reject(rejected(reply.reject)))
      else finish(true, () => reject(new Error(`planning failed: ${reply.error}`)))
    }
    const onExit = (code: number | null, signal: string | null) => {
      const report = () => finish(false, () => reject(died(planner, code, signal)))
      // stderr may still hold the end of its story: read it once the pipe has closed (a moment at most).
      if (child.stderr === null || child.stderr.destroyed) return report()
      child.stderr.once('close', report)
      setTimeout(report, 500).unref()
    }
    const stopAfter = (ms: number, message: string) => setTimeout(() => finish(false, () => reject(new RejectError('PLAN_TIMEOUT', message))), ms)
    let timer = stopAfter(budgetMs, `planning the patch took longer than its budget of ${budgetMs} ms; it was stopped`)
    child.on('message', onMessage).once('exit', onExit)
    // Busy, the planner keeps the service alive until it answers.
    hold(planner, true)
    child.send({ id, ...job }, (err) => {
      if (err) finish(false, () => reject(new Error(`could not hand the patch to the planner: ${err.message}`)))
    })
  })
}

const heapFor = (opts: PlanInWorkerOptions) => opts.heapMb ?? 128 + 4 * Math.ceil((opts.maxPatchBytes ?? DEFAULT_SIZE_LIMITS.maxPatchBytes) / MiB)

/**
 * Starts a planner for patches planned with `opts` and leaves it waiting, so the first patch
 * does not wait for one to start. A planner that cannot start is the first patch's problem.
 */
export function warmPlanner(opts: PlanInWorkerOptions = {}): void {
  acquire(heapFor(opts)).then(release, () => {})
}

/**
 * What `operations` would do to the work tree at `root`, worked out in a planner process under
 * a time budget, a heap limit and the size limits (FileChange[] as planOperations returns it).
 * A patch that cannot apply, runs past its budget or out of memory, or kills its planner throws
 * RejectError with a stable code; anything else (EIO, no git) a plain Error. Nothing is written
 * to the tree; a diff's scratch files live in the planner's own directory, removed with the
 * planner however it ended. Needs no runner: a workspace root and operations are enough.
 */
export async function planInWorker(root: string, operations: Operation[], opts: PlanInWorkerOptions = {}): Promise<FileChange[]> {
  const answer = await plan(root, operations, opts)
  if (!('changes' in answer)) throw new Error('the planner answered a plan with a preview')
  return answer.changes.map((c) => ({ path: c.path, before: fromWire(c.before), after: fromWire(c.after) }))
}

/**
 * What `operations` would show as a preview of `target` (preview-diff.ts): planned as
 * planInWorker plans them, then diffed in the same planner process, so the service's event loop
 * only receives the result.
 */
export async function previewInWorker(root: string, target: string, operations: Operation[], opts: PlanInWorkerOptions = {}): Promise<PatchPreview> {
  const answer = await plan(root, operations, opts, target)
  if (!('preview' in answer)) throw new Error('the planner answered a preview with a plan')
  return answer.preview
}

async function plan(root: string, operations: Operation[], opts: PlanInWorkerOptions, preview?: string): Promise<Answer> {
  const maxFileBytes = opts.maxFileBytes ?? DEFAULT_SIZE_LIMITS.maxFileBytes
  const maxPatchBytes = opts.maxPatchBytes ?? DEFAULT_SIZE_LIMITS.maxPatchBytes
  const options = { maxFileBytes, maxPatchBytes, ...(opts.regexTimeoutMs !== undefined && { regexTimeoutMs: opts.regexTimeoutMs }) }
  const job = { root: path.resolve(root), operations, options, ...(preview !== undefined && { preview }) }
  return runJob(await acquire(heapFor(opts)), job, opts.budgetMs ?? DEFAULT_PLAN_BUDGET_MS)
}
