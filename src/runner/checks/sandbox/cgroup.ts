import { randomBytes } from 'node:crypto'
import { readFileSync, rmdirSync } from 'node:fs'
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { alive } from '../../process/alive.js'

// A check's processes are counted by a pids cgroup of its own: RLIMIT_NPROC does not bind a
// root service (the kernel exempts uid 0), a cgroup binds everyone. Version 1 or 2, whichever
// this process can write to; the check's cgroup is a child of the one this process is in.

const CGROUP_ROOT = '/sys/fs/cgroup'
// A check cgroup's name carries its owner's pid: several runners (and test processes) share a
// parent, and each one's start-up sweep must only take what a dead process left.
const NAME = /^ghost-check-([1-9][0-9]{0,9})-[0-9a-f]{12}$/

interface Mount {
  root: string
  point: string
  fstype: string
  superOptions: string[]
}

function mounts(): Mount[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [left = '', right = ''] = line.split(' - ')
      const fields = left.split(' ')
      const [fstype = '', , superOptions = ''] = right.split(' ')
      // Mount paths escape spaces and the like as octal (\040).
      const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
      return { root: unescape(fields[3] ?? ''), point: unescape(fields[4] ?? ''), fstype, superOptions: superOptions.split(',') }
    })
}

/** Where this process's cgroup of a hierarchy is in the file system. */
function ownDirectory(mount: Mount, cgroupPath: string): string | null {
  if (mount.root === '/') return path.join(mount.point, cgroupPath)
  if (cgroupPath === mount.root || cgroupPath.startsWith(`${mount.root}/`)) return path.join(mount.point, cgroupPath.slice(mount.root.length))
  return null
}

/** Directories this process could make a check's pids cgroup in: v1 first, then v2. */
function candidates(): string[] {
  let own: string[]
  let all: Mount[]
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').filter(Boolean)
    all = mounts()
  } catch {
    return []
  }
  const out: string[] = []
  const v1 = own.map((l) => l.split(':')).find(([, controllers]) => controllers?.split(',').includes('pids'))
  const v1Mount = all.find((m) => m.fstype === 'cgroup' && m.superOptions.includes('pids'))
  if (v1 && v1Mount) out.push(ownDirectory(v1Mount, v1.slice(2).join(':')) ?? '')
  const v2 = own.find((l) => l.startsWith('0::'))
  const v2Mount = all.find((m) => m.fstype === 'cgroup2')
  if (v2 !== undefined && v2Mount) out.push(ownDirectory(v2Mount, v2.slice(3)) ?? '')
  return out.filter((d) => d !== '' && d.startsWith(`${CGROUP_ROOT}/`))
}

/**
 * A directory in which a check's pids cgroup can be made, found by making one; null when no
 * hierarchy lets this process. Empty check cgroups a crashed runner left behind are removed.
 */
export async function findPidsParent(): Promise<string | null> {
  for (const parent of candidates()) {
    try {
      // Version 2 hands a controller to children only once the parent delegates it.
      const subtree = await readFile(path.join(parent, 'cgroup.subtree_control'), 'utf8').catch(() => null)
      if (subtree !== null && !subtree.split(/\s+/).includes('pids')) await writeFile(path.join(parent, 'cgroup.subtree_control'), '+pids')
      await sweep(parent)
      const trial = await makeCheckCgroup(parent, 8)
      await rmdir(trial).catch(ignoreMissing)
      return parent
    } catch {
      // not this one
    }
  }
  return null
}

const ignoreMissing = (err: NodeJS.ErrnoException) => {
  if (err.code !== 'ENOENT') throw err
}

/**
 * Removes the check cgroups a crashed process left: only those whose owner is gone, since a
 * live one's cgroup is empty between its making and the check joining it; and only empty ones
 * (rmdir refuses the others). Another process removing the same one first is no error.
 */
async function sweep(parent: string): Promise<void> {
  for (const name of await readdir(parent)) {
    const owner = NAME.exec(name)?.[1]
    if (owner === undefined || alive(Number(owner))) continue
    await rmdir(path.join(parent, name)).catch(() => {})
  }
}

/** A new pids cgroup allowing `max` tasks (processes and threads), named for this process. */
export async function makeCheckCgroup(parent: string, max: number): Promise<string> {
  const dir = path.join(parent, `ghost-check-${process.pid}-${randomBytes(6).toString('hex')}`)
  await mkdir(dir)
  try {
    await writeFile(path.join(dir, 'pids.max'), String(max))
  } catch (err) {
    await rmdir(dir).catch(() => {})
    throw err
  }
  return dir
}

/** Whether a path read back from a crash marker names a check cgroup, and nothing else. */
export const isCheckCgroup = (dir: string): boolean => path.isAbsolute(dir) && path.normalize(dir) === dir && dir.startsWith(`${CGROUP_ROOT}/`) && NAME.test(path.basename(dir))

/** How many times a fork was refused because the cgroup was full. */
export function refusedForks(dir: string): number {
  try {
    const events = readFileSync(path.join(dir, 'pids.events'), 'utf8')
    return Number(/^max (\d+)$/m.exec(events)?.[1] ?? 0)
  } catch {
    return 0
  }
}

/** SIGKILLs every process in the cgroup; true when there was none left. */
export function killCgroup(dir: string): boolean {
  let pids: number[]
  try {
    pids = readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  } catch {
    return true
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  return pids.length === 0
}

/** Kills what is left in the cgroup and removes it, waiting up to `waitMs` for the processes to go. */
export async function removeCgroup(dir: string, waitMs = 2000): Promise<void> {
  const deadline = Date.now() + waitMs
  for (;;) {
    killCgroup(dir)
    try {
      await rmdir(dir)
      return
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || Date.now() > deadline) return
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The synchronous form, for the crash path: kills, then removes the cgroup if it is already empty. */
export function removeCgroupNow(dir: string): void {
  killCgroup(dir)
  try {
    rmdirSync(dir)
  } catch {
    // still emptying; the next start's sweep removes it
  }
}
