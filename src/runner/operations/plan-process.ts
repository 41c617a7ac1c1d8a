// The process a patch is planned in (see plan-worker.ts): one patch at a time, asked and answered
// over IPC. A RejectError goes back as its parts; anything else is an infrastructure failure and
// goes back as text. Its one argument is the directory its diffs make their scratch trees in.
import { rmSync } from 'node:fs'
import { previewDiff } from '../../diff/preview-diff.js'
import type { Operation } from '../../schemas/patch.js'
import { spawner } from '../process/spawner.js'
import { RejectError } from './errors.js'
import { planOperations, type PlanOptions } from './plan.js'

export interface PlanJob {
  id: number
  root: string
  operations: Operation[]
  options: Omit<PlanOptions, 'scratchDir'>
  /** A preview's target: answer with the patch's diff (preview-diff.ts) instead of its changes. */
  preview?: string
}

// A planner is small: its diffs' git commands fork from it directly, with no helper of its own.
spawner.startDirectly()
const scratchDir = process.argv[2]
if (scratchDir === undefined) throw new Error('plan-process needs its scratch directory')

const send = (reply: object) => process.send?.(reply)

async function answer({ id, root, operations, options, preview }: PlanJob): Promise<object> {
  const changes = await planOperations(root, operations, { ...options, scratchDir })
  if (preview === undefined) return { changes }
  // Planned within its budget; the diff, bounded on its own, is worked out here too, so that
  // nothing a patch controls runs on the service's event loop.
  send({ id, planned: true })
  return { preview: previewDiff(preview, changes) }
}

process.on('message', (job: PlanJob) => {
  const { id } = job
  answer(job).then(
    (reply) => send({ id, ok: true, ...reply }),
    (err: unknown) => {
      if (err instanceof RejectError) send({ id, ok: false, reject: err.toPatchError() })
      else send({ id, ok: false, error: err instanceof Error ? err.message : String(err) })
    },
  )
})

process.on('exit', () => rmSync(scratchDir, { recursive: true, force: true }))
// The service is gone: nothing is left to answer.
process.on('disconnect', () => process.exit(0))
// A stop signal is for the service, which finishes the patches it has started and needs this
// process for that; it leaves when the service does (disconnect). The service stops it with
// SIGKILL when a patch runs past its budget.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => {})
send({ ready: true })
