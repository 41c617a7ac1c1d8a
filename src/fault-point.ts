import { readFileSync } from 'node:fs'

/** The moments a crash can interrupt, in the order a patch passes them. */
export type FaultPoint = 'enqueued' | 'claimed' | 'wrote-file' | 'check-running' | 'committed' | 'recording' | 'recorded'

const file = process.env.GHOST_FAULT_FILE
const passes = new Map<string, number>()

/**
 * A crash point for the crash-consistency tests. Only when GHOST_FAULT_FILE names a file does a
 * point read it: when it holds `<point>:<n>`, the process SIGKILLs itself on the nth pass through
 * that point since the file said so. The file, not the environment, arms it, so a test can let a
 * restarted process settle first. Unset (always, outside those tests) a point costs one comparison.
 */
export function faultPoint(point: FaultPoint): void {
  if (file === undefined) return
  let armed: string
  try {
    armed = readFileSync(file, 'utf8').trim()
  } catch {
    return
  }
  const [name, nth] = armed.split(':')
  if (name !== point) return
  const n = (passes.get(armed) ?? 0) + 1
  passes.set(armed, n)
  if (n >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL')
}
