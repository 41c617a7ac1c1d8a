// The small process that starts the runner's git commands (see spawner.ts). It imports nothing
// but child_process (through spawn-exec.ts): its few pages are what every fork copies, instead
// of the server's.
import { execRequest } from './spawn-exec.js'
import type { SpawnRequest } from './spawn-exec.js'

process.on('message', ({ id, request }: { id: number; request: SpawnRequest }) => {
  execRequest(request, (reply) => process.send?.({ id, ...reply }))
})

// The server is gone (exited or killed): nothing is left to answer. Commands already started
// finish on their own, as they would have had the server started them.
process.on('disconnect', () => process.exit(0))

// A stop signal is for the server, which finishes its patches first and needs this helper
// until then (the helper runs in a process group of its own, so signals sent to the server's
// group miss it; this covers a supervisor that signals every process it finds). The helper
// leaves when the server does (disconnect, above).
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => {})
