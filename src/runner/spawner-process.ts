// The small process that starts the runner's git commands (see spawner.ts). It imports nothing
// but child_process: its few pages are what every fork copies, instead of the server's.
import { execFile } from 'node:child_process'
import type { SpawnReply, SpawnRequest } from './spawner.js'

process.on('message', ({ id, request }: { id: number; request: SpawnRequest }) => {
  const child = execFile(
    request.file,
    request.args,
    { cwd: request.cwd, env: request.env, timeout: request.timeoutMs, killSignal: 'SIGKILL', maxBuffer: request.maxBuffer, encoding: 'buffer' },
    (err, stdout, stderr) => {
      const reply: SpawnReply = {
        id,
        exitCode: err ? (typeof err.code === 'number' ? err.code : null) : 0,
        killed: err?.killed ?? false,
        error: err && typeof err.code !== 'number' ? err.message : null,
        stdout,
        stderr,
      }
      process.send?.(reply)
    },
  )
  // A child that exits before reading stdin raises EPIPE here; its exit code tells the story.
  child.stdin?.on('error', () => {})
  child.stdin?.end(request.input ?? '')
})

// The server is gone (exited or killed): nothing is left to answer. Commands already started
// finish on their own, as they would have had the server started them.
process.on('disconnect', () => process.exit(0))
