import type Database from 'better-sqlite3'
import type { StoreLogger } from '../logger.js'

/**
 * Hears the commits of other connections to the file (a `ghost-runner work` on the same file):
 * they show only as a new data_version, which changes exactly when another connection
 * committed. One cheap pragma per interval for the whole process, and `changed` (look again)
 * when it moved; this connection's own transitions are announced as they commit.
 */
export class DataVersionWatch {
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly db: Database.Database,
    private readonly intervalMs: number,
    private readonly changed: () => void,
    private readonly logger?: StoreLogger,
  ) {}

  get watching(): boolean {
    return this.timer !== null
  }

  start(): void {
    if (this.timer) return
    let version = this.db.pragma('data_version', { simple: true })
    this.timer = setInterval(() => {
      if (!this.db.open) return
      let now: unknown
      try {
        now = this.db.pragma('data_version', { simple: true })
      } catch (err) {
        this.logger?.warn({ err }, 'could not read data_version; followers rely on their slow poll')
        return
      }
      if (now === version) return
      version = now
      this.changed()
    }, this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
