// A scale-out deployment on one machine: bare repositories standing for the shared remotes,
// one clone of each per runner (as on separate machines), and `work` processes on one schema.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { git } from '../helpers/git.js'
import { spawnWorker, type CliProcess } from '../helpers/process.js'

export const SEED = 'start\n'

/** A bare repository whose `main` holds one commit with `log.txt`. */
export function bareRepo(dir: string, name: string): string {
  const bare = path.join(dir, 'remotes', `${name}.git`)
  mkdirSync(bare, { recursive: true })
  git(bare, 'init', '-q', '--bare', '-b', 'main')
  const seed = path.join(dir, 'seed', name)
  mkdirSync(seed, { recursive: true })
  git(seed, 'init', '-q', '-b', 'main')
  writeFileSync(path.join(seed, 'log.txt'), SEED)
  git(seed, 'add', 'log.txt')
  git(seed, 'commit', '-q', '-m', 'initial')
  git(seed, 'push', '-q', bare, 'main')
  return bare
}

export interface RunnerSpec {
  env: Record<string, string>
  clones: Record<string, string>
}

/** A runner machine: its own data dir, its own clone of every remote, a config naming them. */
export function runnerMachine(dir: string, name: string, remotes: Record<string, string>, common: Record<string, string>, runner: Record<string, number>, runnerStaleMs: number): RunnerSpec {
  const home = path.join(dir, name)
  mkdirSync(home, { recursive: true })
  const clones: Record<string, string> = {}
  const workspaces: Record<string, unknown> = {}
  for (const [target, remote] of Object.entries(remotes)) {
    const clone = path.join(home, 'clones', target)
    git(home, 'clone', '-q', remote, clone)
    clones[target] = clone
    workspaces[target] = { path: clone, branch: 'main', remote, author: { name: `Runner ${name}`, email: `${name}@example.com` } }
  }
  const configFile = path.join(home, 'config.json')
  writeFileSync(configFile, JSON.stringify({ workspaces, runner, health: { runnerStaleMs } }))
  return { clones, env: { ...common, GHOST_CONFIG: configFile, GHOST_DATA_DIR: path.join(home, 'data') } }
}

export type WorkProcess = CliProcess

/** Spawns `ghost-runner work` and waits until its runner has started claiming. */
export async function startWork(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkProcess> {
  const work = spawnWorker({ LOG_LEVEL: 'info', ...env })
  const deadline = Date.now() + timeoutMs
  while (!work.output().includes('"msg":"runner started"')) {
    if (work.child.exitCode !== null) throw new Error(`work exited ${work.child.exitCode}: ${work.output()}`)
    if (Date.now() > deadline) {
      work.child.kill('SIGKILL')
      throw new Error(`work did not start within ${timeoutMs} ms: ${work.output()}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return work
}

// Sends a signal and waits for the exit; the exit code, or null when a signal ended it.
export { kill as stop } from '../helpers/process.js'
