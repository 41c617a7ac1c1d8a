import { readFileSync } from 'node:fs'

/**
 * When a process started, in clock ticks since boot (Linux /proc), or null where unknown. A pid
 * plus its start time names one process: a later process reusing the pid has another start.
 */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces and parentheses; the fields after it are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}
