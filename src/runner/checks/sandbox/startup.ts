import type { Config } from '../../../config.js'
import type { RunnerLogger } from '../../logger.js'
import { sandboxSupport } from './support.js'

/** Checks would need a sandbox this host cannot make; the message is one line naming the fix. */
export class SandboxUnavailableError extends Error {
  override readonly name = 'SandboxUnavailableError'
}

const names = (list: string[]) => (list.length === 1 ? `workspace "${list[0]}"` : `workspaces ${list.map((n) => `"${n}"`).join(', ')}`)

/**
 * Before a runner takes any patch: makes sure the workspaces whose checks run sandboxed can
 * have their sandbox (one trivial sandbox started), and says where checks run less confined
 * than the default. Returns those notes for the runner's heartbeat (health shows them).
 */
export async function checkSandboxes(config: Config, log: RunnerLogger): Promise<string[]> {
  const withChecks = Object.entries(config.workspaces).filter(([, ws]) => Object.keys(ws.checks).length > 0)
  const notes: string[] = []
  const unsandboxed = withChecks.filter(([, ws]) => ws.sandbox === 'none').map(([name]) => name)
  if (unsandboxed.length > 0) {
    const note = `${names(unsandboxed)} run${unsandboxed.length === 1 ? 's' : ''} checks without a sandbox (sandbox: "none")`
    log.warn({ workspaces: unsandboxed }, `${note}: those checks run with the service's privileges and can read its secrets`)
    notes.push(note)
  }
  const sandboxed = withChecks.filter(([, ws]) => ws.sandbox === 'bwrap').map(([name]) => name)
  if (sandboxed.length === 0) return notes

  const support = await sandboxSupport([config.dataDir, ...Object.values(config.workspaces).map((ws) => ws.path)])
  if (support.problem !== null) {
    throw new SandboxUnavailableError(`checks run in a sandbox, but ${support.problem}, or set sandbox: "none" on ${names(sandboxed)} to run ${sandboxed.length === 1 ? 'its' : 'their'} checks without one`)
  }
  if (support.processLimit === null) {
    const note = 'the process limit of sandboxed checks is not enforced (no writable pids cgroup, and RLIMIT_NPROC does not bind root)'
    log.warn({ workspaces: sandboxed }, note)
    notes.push(note)
  }
  if (support.scanTruncated) log.warn('the scan for files holding secrets ran out of time; name any it missed in the workspace setting `hide`')
  log.info({ workspaces: sandboxed, processLimit: support.processLimit, hidden: support.hidden.length }, 'checks run in a bubblewrap sandbox')
  return notes
}
