import { execFile } from 'node:child_process'
import { lstat, realpath, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { HiddenPath } from './mounts.js'

/**
 * Hidden from every check: the service user's HOME (~/.ssh, ~/.npmrc, ~/.pgpass…) and the
 * run-time directories where services keep their sockets (PostgreSQL's is /var/run/postgresql):
 * a Unix socket can be connected to through a read-only mount, the network namespace does not
 * cover it.
 */
export function alwaysHidden(): string[] {
  const homes = [os.homedir(), process.env.HOME]
  try {
    homes.push(os.userInfo().homedir)
  } catch {
    // no passwd entry for this uid
  }
  return ['/run', '/var/run', ...homes.filter((h): h is string => typeof h === 'string' && h !== '')]
}

/** Real paths and kinds of those that exist; a missing path has nothing to hide. */
export async function resolveHidden(paths: readonly string[]): Promise<HiddenPath[]> {
  const out = new Map<string, HiddenPath>()
  await Promise.all(
    paths.map(async (p) => {
      try {
        const real = await realpath(p)
        out.set(real, { path: real, directory: (await stat(real)).isDirectory() })
      } catch {
        // missing, or not ours to see
      }
    }),
  )
  return [...out.values()]
}

/** Where the scan looks for files holding secrets: configuration, service state, local software. */
export const SCAN_ROOTS = ['/etc', '/var', '/opt', '/srv', '/home', '/usr/local/etc']
const MAX_DEPTH = 6
const SCAN_TIMEOUT_MS = 15_000

export interface ScanResult {
  hidden: HiddenPath[]
  /** The scan ran out of time: deeper entries were not looked at. */
  truncated: boolean
}

const literal = (p: string) => p.replace(/[*?[\]\\]/g, '\\$&')

/**
 * Finds what a check must not see without the configuration naming it: anything others may not
 * read (a directory without o+rx, a file without o+r: /etc/shadow, host keys, /etc/ssl/private,
 * database and message-broker state) and every socket. Run once at start with find(1), off the
 * event loop, not into `skip` (the workspaces and the data directory, hidden by name).
 */
export async function scanPrivate(skip: readonly string[], roots: readonly string[] = SCAN_ROOTS): Promise<ScanResult> {
  const present = (await Promise.all(roots.map(async (r) => ((await lstat(r).catch(() => null))?.isDirectory() ? r : null)))).filter((r): r is string => r !== null)
  if (present.length === 0) return { hidden: [], truncated: false }
  const pruned = skip.flatMap((p, i) => [...(i > 0 ? ['-o'] : []), '-path', literal(path.resolve(p))])
  const args = [
    ...present,
    '-maxdepth', String(MAX_DEPTH),
    ...(pruned.length > 0 ? ['(', ...pruned, ')', '-prune', '-o'] : []),
    '(', '-type', 'd', '!', '-perm', '-o=rx', '-printf', 'd%p\\0', '-prune', ')',
    '-o', '(', '-type', 's', '-o', '(', '!', '-type', 'd', '!', '-type', 'l', '!', '-perm', '-o=r', ')', ')', '-printf', 'f%p\\0',
  ]
  const { stdout, truncated } = await new Promise<{ stdout: string; truncated: boolean }>((resolve) => {
    // find exits 1 for a directory it may not read: what it printed still stands.
    execFile('find', args, { timeout: SCAN_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }, (err, out) =>
      resolve({ stdout: out, truncated: err?.killed === true || err?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' }),
    )
  })
  const entries = stdout.split('\0')
  // The last entry of a scan cut short may be cut too.
  if (truncated) entries.pop()
  const hidden = entries.filter((e) => e.length > 1).map((e) => ({ path: e.slice(1), directory: e[0] === 'd' }))
  return { hidden, truncated }
}
