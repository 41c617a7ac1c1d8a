import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { execRequest, type SpawnReply, type SpawnRequest } from './spawn-exec.js'


/** One command for the spawner process: an argv array, never a shell. */
export interface SpawnResult extends Omit<SpawnReply, 'id' | 'stdout' | 'stderr'> {
  stdout: Buffer
  stderr: Buffer
}

/** The spawner process died with the command in flight: whether it ran is unknown. */
export class SpawnerLostError extends Error {
  override readonly name = 'SpawnerLostError'
}

// Under the TypeScript loader (tests, `npm start`) the entry is the .ts source; compiled, the .js.
const entry = new URL(`./spawner-process${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
// Resolved here, so the helper finds the loader whatever directory the server was started from.
const execArgv = import.meta.url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : []

interface Pending {
  resolve: (result: SpawnResult) => void
  reject: (err: Error) => void
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Starts the runner's git commands from a small helper process instead of this one. Starting a
 * process forks its parent, and a fork costs in proportion to the parent's memory: about 5 ms
 * from a server of 150 MB, against under 1 ms from the helper, and the server's event loop
 * stands still for each one. The helper starts on first use, is started again if it dies
 * (commands in flight then fail with SpawnerLostError), and never keeps this process alive
 * while idle.
 */
class Spawner {
  #child: ChildProcess | null = null
  #direct = false

  /**
   * From now on, commands start from this process itself: for a process as small as the helper
   * (a planner), where a fork costs as little and a helper would only add a process.
   */
  startDirectly(): void {
    this.#direct = true
  }
  #pending = new Map<number, Pending>()
  #next = 0

  run(request: SpawnRequest): Promise<SpawnResult> {
    if (this.#direct) {
      return new Promise((resolve) => execRequest(request, (r) => resolve({ exitCode: r.exitCode, killed: r.killed, error: r.error, stdout: asBuffer(r.stdout), stderr: asBuffer(r.stderr) })))
    }
    const child = this.#ensure()
    const id = ++this.#next
    return new Promise<SpawnResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      child.channel?.ref()
      child.send({ id, request }, (err) => {
        if (err) this.#settle(id, (p) => p.reject(new SpawnerLostError(`could not hand the command to the spawner: ${err.message}`)))
      })
    })
  }

  /** The helper's pid, or null when it is not running (for tests). */
  get pid(): number | null {
    return this.#child?.pid ?? null
  }

  #ensure(): ChildProcess {
    if (this.#child?.connected) return this.#child
    // detached: a process group of its own, for the helper and the git commands it starts, so
    // that a stop signal sent to the server's group (systemd, a terminal's Ctrl-C) does not cut a
    // git command of a patch the server is still finishing. It still leaves with the server.
    const child = fork(fileURLToPath(entry), [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true })
    child.unref()
    child.on('message', (reply: SpawnReply) => {
      this.#settle(reply.id, (p) => p.resolve({ exitCode: reply.exitCode, killed: reply.killed, error: reply.error, stdout: asBuffer(reply.stdout), stderr: asBuffer(reply.stderr) }))
    })
    const lost = () => {
      if (this.#child !== child) return
      this.#child = null
      const pending = [...this.#pending.values()]
      this.#pending.clear()
      for (const p of pending) p.reject(new SpawnerLostError('the spawner process exited with the command in flight'))
    }
    child.on('exit', lost)
    child.on('disconnect', lost)
    // An unusable helper surfaces as 'exit' (or a failed send) for the commands that need it.
    child.on('error', () => {})
    this.#child = child
    return child
  }

  #settle(id: number, how: (p: Pending) => void) {
    const p = this.#pending.get(id)
    if (!p) return
    this.#pending.delete(id)
    if (this.#pending.size === 0) this.#child?.channel?.unref()
    how(p)
  }
}

export const spawner = new Spawner()
