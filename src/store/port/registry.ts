/** A runner process as its heartbeats describe it. */
export interface RunnerInfo {
  id: string
  host: string
  pid: number
  started_at: string
  last_seen: string
  /** Free-form state the runner reports, e.g. blocked workspaces. */
  info: Record<string, unknown>
}

/** The runner registry: which runner processes exist and when each was last heard from. */
export interface RegistryPort {
  runnerHeartbeat(runner: Omit<RunnerInfo, 'last_seen'>, now?: number): Promise<void>
  /** Sorted by id (byte order). */
  runners(): Promise<RunnerInfo[]>
}
