// A scale-out deployment on one machine: bare repositories standing for the shared remotes,
// one clone of each per runner (as on separate machines), and `work` processes on one schema.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { git } from '../helpers/git.js'

const REPO_ROOT = new URL('../..', import.meta.url).pathname

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

export interface WorkProcess {
  child: ChildProcess
  output: () => string
}

/** Spawns `ghost-runner work` and waits until its runner has started claiming. */
export async function startWork(env: Record<string, string>, timeoutMs = 30_000): Promise<WorkProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'work'], {
    cwd: REPO_ROOT,
    // No GIT_* from the test's environment: a runner machine has its own.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const deadline = Date.now() + timeoutMs
  while (!out.includes('"msg":"runner started"')) {
    if (child.exitCode !== null) throw new Error(`work exited ${child.exitCode}: ${out}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`work did not start within ${timeoutMs} ms: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return { child, output: () => out }
}

/** Sends a signal and waits for the exit; the exit code, or null when a signal ended it. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const exited = once(child, 'exit')
  child.kill(signal)
  const [code] = (await exited) as [number | null]
  return code
}
