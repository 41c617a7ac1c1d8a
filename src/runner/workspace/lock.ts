import { constants, readFileSync } from 'node:fs'
import { mkdir, open, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { journalDir } from '../attempt/journal.js'
import { processStartTicks } from '../process/start-ticks.js'
import { alive } from '../process/alive.js'

/** Who holds a workspace: written into the lock file so another process can judge whether it is stale. */
export interface LockHolder {
  host: string
  pid: number
  runner_id: string
  at: string
  /** Process start time (Linux), so a later process that reuses the pid is not taken for the holder. */
  start?: string | null
}

export class WorkspaceBusyError extends Error {
  override readonly name = 'WorkspaceBusyError'
  constructor(readonly holder: LockHolder | null) {
    super(holder ? `workspace is held by runner ${holder.runner_id} (pid ${holder.pid} on ${holder.host}) since ${holder.at}` : 'workspace is held by another runner')
  }
}

export interface LockOptions {
  runnerId: string
  /** Whether a holder on another host is gone (e.g. its runner heartbeat is stale). */
  isGone?: (holder: LockHolder) => Promise<boolean>
}

// In-process queue per lock file: targets that share a repository take turns here first.
const queues = new Map<string, Promise<unknown>>()

function readHolder(file: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder
  } catch {
    return null
  }
}

async function isStale(holder: LockHolder | null, opts: LockOptions): Promise<boolean> {
  // Unreadable: a holder killed between creating and writing the file.
  if (holder === null || typeof holder.pid !== 'number') return true
  if (holder.host === hostname()) {
    // This process holds no file lock outside its queue, so one naming our pid is from an
    // earlier process that had the same pid (a restarted container).
    if (holder.pid === process.pid || !alive(holder.pid)) return true
    const start = processStartTicks(holder.pid)
    return holder.start != null && start !== null && start !== holder.start
  }
  return (await opts.isGone?.(holder)) ?? false
}

async function acquire(file: string, opts: LockOptions): Promise<LockHolder> {
  const me: LockHolder = { host: hostname(), pid: process.pid, runner_id: opts.runnerId, at: new Date().toISOString(), start: processStartTicks(process.pid) }
  await mkdir(path.dirname(file), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
      try {
        await fh.writeFile(JSON.stringify(me))
        await fh.sync()
      } finally {
        await fh.close()
      }
      return me
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = readHolder(file)
    if (!(await isStale(holder, opts))) throw new WorkspaceBusyError(holder)
    await unlink(file).catch(() => {})
  }
  throw new WorkspaceBusyError(readHolder(file))
}

async function release(file: string, me: LockHolder): Promise<void> {
  const holder = readHolder(file)
  if (holder && holder.runner_id === me.runner_id && holder.pid === me.pid && holder.at === me.at) await unlink(file).catch(() => {})
}

/**
 * Runs `fn` holding the workspace: one patch at a time per repository across every runner
 * process on the machine (and across hosts sharing it, when `isGone` can tell a dead holder).
 * The store already serialises a target; this also covers a runner whose lease expired while it
 * was still writing, and targets configured on the same path.
 */
export async function withWorkspaceLock<T>(gitDir: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const file = path.join(journalDir(gitDir), 'lock')
  const previous = queues.get(file) ?? Promise.resolve()
  const run = previous.catch(() => {}).then(async () => {
    const me = await acquire(file, opts)
    try {
      return await fn()
    } finally {
      await release(file, me)
    }
  })
  queues.set(file, run)
  try {
    return await run
  } finally {
    if (queues.get(file) === run) queues.delete(file)
  }
}
