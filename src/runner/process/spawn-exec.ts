// Runs one SpawnRequest with execFile: what the spawner process does for the server, and what a
// planner process (operations/plan-worker.ts) does itself, being small enough to fork from.
// It imports nothing but child_process: the spawner process loads it, and stays small.
import { execFile } from 'node:child_process'

export interface SpawnRequest {
  file: string
  args: readonly string[]
  cwd: string
  env: NodeJS.ProcessEnv
  input?: string | Uint8Array
  timeoutMs: number
  maxBuffer: number
}

export interface SpawnReply {
  id: number
  /** The exit code; null when the command did not exit by itself (killed, not started). */
  exitCode: number | null
  /** Killed by the timeout. */
  killed: boolean
  /** Why it could not run or was cut short (missing binary, output over maxBuffer); null otherwise. */
  error: string | null
  stdout: Uint8Array
  stderr: Uint8Array
}

export function execRequest(request: SpawnRequest, done: (reply: Omit<SpawnReply, 'id'>) => void): void {
  const child = execFile(
    request.file,
    request.args,
    { cwd: request.cwd, env: request.env, timeout: request.timeoutMs, killSignal: 'SIGKILL', maxBuffer: request.maxBuffer, encoding: 'buffer' },
    (err, stdout, stderr) => {
      done({
        exitCode: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        killed: err?.killed ?? false,
        error: err && typeof err.code !== 'number' ? err.message : null,
        stdout,
        stderr,
      })
    },
  )
  // A child that exits before reading stdin raises EPIPE here; its exit code tells the story.
  child.stdin?.on('error', () => {})
  child.stdin?.end(request.input ?? '')
}
