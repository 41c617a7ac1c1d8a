import { readFile } from 'node:fs/promises'
import os from 'node:os'

// Host figures read without starting a process: systeminformation's CPU and network samplers
// run `cat /proc/stat | grep` and `ip`/`nmcli` with execSync on Linux, which froze the event
// loop (and every request) for 10–50 ms on each probe round.

interface CpuTimes {
  count: number
  busy: number
  total: number
}

function cpuTimes(): CpuTimes {
  const cpus = os.cpus()
  let busy = 0
  let total = 0
  for (const { times } of cpus) {
    const sum = times.user + times.nice + times.sys + times.irq + times.idle
    total += sum
    busy += sum - times.idle
  }
  return { count: cpus.length, busy, total }
}

/**
 * CPU use across every core since the previous call, as a percentage (since boot on the first).
 * Each sampler keeps its own previous reading.
 */
export function cpuSampler(): () => { count: number; percent: number } {
  let previous: CpuTimes = { count: 0, busy: 0, total: 0 }
  return () => {
    const now = cpuTimes()
    const total = now.total - previous.total
    const percent = total > 0 ? ((now.busy - previous.busy) / total) * 100 : 0
    previous = now
    return { count: now.count, percent }
  }
}

/**
 * Bytes received by every interface but loopback, from /proc/net/dev; null where that file does
 * not exist (not Linux), so the caller can ask elsewhere.
 */
export async function receivedBytes(file = '/proc/net/dev'): Promise<number | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return null
  }
  let sum = 0
  // "  eth0: 123 4 0 …": the first number after the colon is bytes received.
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const iface = line.slice(0, colon).trim()
    if (iface === 'lo') continue
    const bytes = Number(line.slice(colon + 1).trim().split(/\s+/)[0])
    if (Number.isFinite(bytes)) sum += bytes
  }
  return sum
}
