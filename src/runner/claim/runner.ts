import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Config, WorkspaceConfig } from '../../config.js'
import type { RunnerHeartbeatInfo } from '../../schemas/runner-heartbeat.js'
import { verifyOnly, type ClaimedPatch, type Store } from '../../store/port.js'
import { faultPoint } from '../../fault-point.js'
import { executePatch } from '../attempt/execute.js'
import { PatchFailure } from '../failure.js'
import { LeaseKeeper } from './lease.js'
import type { RunnerLogger } from '../logger.js'
import { warmPlanner } from '../operations/index.js'
import { recoverInterrupted } from '../attempt/recovery.js'
import { checkSandboxes } from '../checks/sandbox/startup.js'
import { withWorkspaceLock, WorkspaceBusyError, type LockHolder } from '../workspace/lock.js'
import type { GitRepo } from '../workspace/git.js'
import { located, prepareWorkspace, workspaceBlock, type WorkspaceBlock } from '../workspace/workspace.js'
import { BlockedWorkspaces } from './blocked.js'

export interface RunnerOptions {
  store: Store
  config: Config
  log: RunnerLogger
  /** Defaults to host:pid:random, unique per runner instance. */
  id?: string
}

const newRunnerId = () => `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`

/**
 * The claim loop: claims up to `concurrency` patches (the store hands out at most one per
 * target, oldest first), runs each under a heartbeated lease, and polls when idle. stop() lets
 * in-flight patches finish, so a graceful shutdown never interrupts a write.
 */
export class Runner {
  readonly id: string
  readonly startedAt = new Date().toISOString()
  readonly #store: Store
  readonly #config: Config
  readonly #log: RunnerLogger
  readonly #inFlight = new Map<string, Promise<void>>()
  /** Target of each in-flight patch. */
  readonly #targets = new Map<string, string>()
  readonly #blocked: BlockedWorkspaces
  /** Targets whose workspace another process holds: not claimed again until this time. */
  readonly #cooldown = new Map<string, number>()
  readonly #timers: NodeJS.Timeout[] = []
  #pollTimer: NodeJS.Timeout | undefined
  #running = false
  #pumping = false
  #pumpAgain = false
  #stopped: Promise<void> | undefined
  #unsubscribe: (() => void) | undefined
  #sandboxNotes: string[] = []

  constructor(opts: RunnerOptions) {
    this.id = opts.id ?? newRunnerId()
    this.#store = opts.store
    this.#config = opts.config
    this.#log = opts.log.child({ runner: this.id })
    this.#blocked = new BlockedWorkspaces(this.#config, this.#log)
  }

  get running(): boolean {
    return this.#running
  }

  get inFlight(): string[] {
    return [...this.#inFlight.keys()]
  }

  get blocked(): ReadonlyMap<string, WorkspaceBlock> {
    return this.#blocked.all
  }

  /**
   * Creates missing default workspaces, clones missing ones that have a remote, and notes which
   * ones cannot be used as they stand. All at once: a slow clone delays the start by its own
   * length, not by the sum of every workspace's.
   */
  async prepareWorkspaces(): Promise<void> {
    const prepare = async (name: string, ws: WorkspaceConfig) => {
      try {
        const repo = await prepareWorkspace(ws, { dataDir: this.#config.dataDir })
        await this.#recoverInterrupted(ws, repo)
        this.#blocked.set(name, await workspaceBlock(ws, repo))
      } catch (err) {
        const message = err instanceof PatchFailure ? err.message : String(err)
        this.#log.error({ err, workspace: name }, 'workspace cannot be prepared')
        this.#blocked.set(name, { code: 'WORKSPACE_UNAVAILABLE', message, paths: [] })
      }
    }
    // Names that share a path take turns, so one directory is never created twice at once.
    const byPath = new Map<string, Promise<void>>()
    for (const [name, ws] of Object.entries(this.#config.workspaces)) {
      byPath.set(ws.path, (byPath.get(ws.path) ?? Promise.resolve()).then(() => prepare(name, ws)))
    }
    await Promise.all(byPath.values())
  }

  /**
   * Undoes the write of a runner killed mid-patch now, not when the next patch for the workspace
   * comes: that may be long after, or (for a patch settled elsewhere) never, and the tree must
   * not sit half-written meanwhile. Under the workspace lock, so a live runner's own journal is
   * never touched.
   */
  async #recoverInterrupted(ws: WorkspaceConfig, repo: GitRepo): Promise<void> {
    const at = located(ws, repo)
    try {
      await withWorkspaceLock(repo.gitDir, { runnerId: this.id, isGone: (holder) => this.#holderGone(holder) }, () => recoverInterrupted(at.ws, at.repo, this.#log))
    } catch (err) {
      if (!(err instanceof WorkspaceBusyError)) throw err
    }
  }

  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    try {
      this.#sandboxNotes = await checkSandboxes(this.#config, this.#log)
    } catch (err) {
      this.#running = false
      throw err
    }
    const { heartbeatMs, leaseMs, pollMs } = this.#config.runner
    // Started while the workspaces are prepared, a planner is ready for the first patch.
    warmPlanner({ maxPatchBytes: this.#config.limits.patchWriteMb * 1024 * 1024 })
    await this.prepareWorkspaces()
    await this.#heartbeat()
    this.#every(heartbeatMs, () => this.#tick())
    this.#every(Math.max(pollMs, Math.min(Math.floor(leaseMs / 2), 5000)), () => this.#reap())
    await this.#reap()
    // Stores that can push wake-ups (PostgreSQL LISTEN/NOTIFY) save a poll interval per patch.
    this.#unsubscribe = this.#store.onPatchQueued?.(() => this.wake())
    this.#log.info({ concurrency: this.#config.runner.concurrency, workspaces: Object.keys(this.#config.workspaces) }, 'runner started')
    this.wake()
  }

  /** Claims now instead of at the next poll (a webhook just queued a patch). */
  wake(): void {
    if (!this.#running) return
    setImmediate(() => void this.#pump())
  }

  /** Stops claiming, waits for in-flight patches to finish and clears every timer. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#running = false
      this.#unsubscribe?.()
      for (const t of this.#timers) clearInterval(t)
      clearTimeout(this.#pollTimer)
      if (this.#inFlight.size > 0) this.#log.info({ inFlight: this.inFlight }, 'runner stopping: waiting for in-flight patches')
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight.values()])
      // A last heartbeat says the runner is gone, rather than letting health wait for it to go stale.
      await this.#heartbeat().catch(() => {})
      this.#log.info('runner stopped')
    })()
    return this.#stopped
  }

  #every(ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => void fn(), ms)
    t.unref()
    this.#timers.push(t)
  }

  info(): RunnerHeartbeatInfo {
    return {
      blocked: this.#blocked.report(),
      in_flight: this.inFlight,
      concurrency: this.#config.runner.concurrency,
      stopping: !this.#running,
      sandbox: this.#sandboxNotes,
    }
  }

  async #heartbeat(): Promise<void> {
    await this.#store.runnerHeartbeat({ id: this.id, host: hostname(), pid: process.pid, started_at: this.startedAt, info: this.info() })
  }

  async #tick(): Promise<void> {
    const busy = new Set([...this.#inFlight.keys()].map((id) => this.#targets.get(id)))
    // Not awaited: preparing a workspace may mean cloning it, which must not hold up the heartbeat.
    void this.#blocked.recheck(busy).catch((err: unknown) => this.#log.warn({ err }, 'could not look at the blocked workspaces again'))
    try {
      await this.#heartbeat()
    } catch (err) {
      this.#log.warn({ err }, 'runner heartbeat failed')
    }
  }

  async #reap(): Promise<void> {
    try {
      const n = await this.#store.reapExpired({ maxAttempts: this.#config.runner.maxAttempts })
      if (n > 0) this.wake()
    } catch (err) {
      this.#log.warn({ err }, 'reaping expired leases failed')
    }
  }

  /** null: every lane; a list when some targets are cooling down after finding their workspace held. */
  #claimTargets(): string[] | null {
    const now = Date.now()
    for (const [t, until] of this.#cooldown) if (until <= now) this.#cooldown.delete(t)
    if (this.#cooldown.size === 0) return null
    return Object.keys(this.#config.workspaces).filter((t) => !this.#cooldown.has(t))
  }

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true
      return
    }
    this.#pumping = true
    clearTimeout(this.#pollTimer)
    try {
      do {
        this.#pumpAgain = false
        while (this.#running && this.#inFlight.size < this.#config.runner.concurrency) {
          const targets = this.#claimTargets()
          if (targets !== null && targets.length === 0) break
          const claimed = await this.#store.claim(this.id, { targets, leaseMs: this.#config.runner.leaseMs })
          if (claimed === null) break
          faultPoint('claimed')
          this.#launch(claimed)
        }
      } while (this.#pumpAgain && this.#running)
    } catch (err) {
      this.#log.error({ err }, 'claiming from the store failed')
    } finally {
      this.#pumping = false
      if (this.#running) {
        this.#pollTimer = setTimeout(() => void this.#pump(), this.#config.runner.pollMs)
        this.#pollTimer.unref()
      }
    }
  }

  #launch(claimed: ClaimedPatch): void {
    const { record, token } = claimed
    const log = this.#log.child({ patch: record.id, target: record.target })
    if (!this.#running) {
      // Claimed while stopping: hand it straight back rather than start work that would delay shutdown.
      void this.#store.release(record.id, token, 'runner_stopping', this.id, { attempted: false }).catch((err: unknown) => log.warn({ err }, 'could not release a patch'))
      return
    }
    log.info({ attempt: record.attempts, ...(verifyOnly(record) && { verify_only: true }) }, 'patch claimed')
    const { leaseMs, heartbeatMs } = this.#config.runner
    const lease = new LeaseKeeper(this.#store, record.id, token, leaseMs, claimed.leaseExpiresAt, log)
    lease.start(heartbeatMs)
    this.#targets.set(record.id, record.target)
    const run = executePatch({
      store: this.#store,
      config: this.#config,
      runnerId: this.id,
      claimed,
      lease,
      log,
      onBlocked: (target, block) => this.#blocked.set(target, block),
      isGone: (holder) => this.#holderGone(holder),
    })
      .then((outcome) => {
        // Claiming again at once would find the workspace held, or the remote out of reach, again.
        if (outcome.status === 'release' && outcome.reason !== 'push_rejected') this.#cooldown.set(record.target, Date.now() + Math.max(this.#config.runner.pollMs * 10, 2000))
      })
      .catch((err: unknown) => log.error({ err }, 'recording the patch outcome failed; the lease will expire and the patch be retried'))
      .finally(async () => {
        await lease.stop()
        this.#inFlight.delete(record.id)
        this.#targets.delete(record.id)
        this.wake()
      })
    this.#inFlight.set(record.id, run)
  }

  /** A workspace lock from another host is stale once its runner has stopped heartbeating. */
  async #holderGone(holder: LockHolder): Promise<boolean> {
    const runner = (await this.#store.runners()).find((r) => r.id === holder.runner_id)
    if (!runner) return true
    const staleAfter = Math.max(this.#config.runner.leaseMs, this.#config.health.runnerStaleMs)
    return Date.now() - Date.parse(runner.last_seen) > staleAfter
  }
}
