import { readdirSync, readFileSync } from 'node:fs'

/**
 * Pids of the host's live processes (not zombies) whose command line contains `token`. A
 * sandboxed check sees its own PID namespace, so what it started is found by what it runs.
 */
export function hostProcessesWith(token: string): number[] {
  const found: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (!cmdline.includes(token)) continue
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return found
}
