import type { Config } from '../../config.js'
import type { RunnerHeartbeatInfo } from '../../schemas/runner-heartbeat.js'
import type { RunnerLogger } from '../logger.js'
import { prepareWorkspace, workspaceBlock, type WorkspaceBlock } from '../workspace/workspace.js'

/** The most paths of one blocked workspace that the log and the heartbeat name. */
const PATHS_SHOWN = 20

/** The workspaces a runner will not touch now, and why: the heartbeat reports them and health names them. */
export class BlockedWorkspaces {
  readonly #blocked = new Map<string, WorkspaceBlock>()
  #rechecking = false

  constructor(
    private readonly config: Config,
    private readonly log: RunnerLogger,
  ) {}

  get all(): ReadonlyMap<string, WorkspaceBlock> {
    return this.#blocked
  }

  /** Notes what blocks the target's workspace (null: usable again), logging each change once. */
  set(target: string, block: WorkspaceBlock | null): void {
    const was = this.#blocked.get(target)
    if (block === null) {
      if (was) this.log.info({ workspace: target }, 'workspace usable again')
      this.#blocked.delete(target)
    } else {
      if (!was || was.code !== block.code) this.log.warn({ workspace: target, code: block.code, paths: block.paths.slice(0, PATHS_SHOWN) }, block.message)
      this.#blocked.set(target, block)
    }
  }

  report(): RunnerHeartbeatInfo['blocked'] {
    return [...this.#blocked].map(([target, b]) => ({ target, code: b.code, message: b.message, paths: b.paths.slice(0, PATHS_SHOWN) }))
  }

  /**
   * A blocked workspace is looked at again, so health clears once the person commits or
   * stashes, or a remote that could not be cloned is reachable again. One pass at a time: a slow
   * clone is not started again by every tick. `busy`: targets with a patch in flight, left alone.
   */
  async recheck(busy: ReadonlySet<string | undefined>): Promise<void> {
    if (this.#rechecking) return
    this.#rechecking = true
    try {
      for (const target of [...this.#blocked.keys()]) {
        const ws = this.config.workspaces[target]
        if (!ws || busy.has(target)) continue
        try {
          const repo = await prepareWorkspace(ws, { dataDir: this.config.dataDir })
          this.set(target, await workspaceBlock(ws, repo))
        } catch {
          // still unusable; the block stays as it was
        }
      }
    } finally {
      this.#rechecking = false
    }
  }
}
