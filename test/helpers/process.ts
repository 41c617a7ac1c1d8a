import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { randomUUID } from 'node:crypto'

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  srv.close()
  await once(srv, 'close')
  return port
}

/** A spawned `ghost-runner` child and everything it has written to stdout and stderr so far. */
export interface CliProcess {
  child: ChildProcess
  output: () => string
}

export interface ServiceProcess extends CliProcess {
  url: string
  port: number
}

/**
 * A bearer token of its own for each spawned service. Ports are reused across the suite's
 * processes: a client of another test that still posts to a port this service now holds must
 * get 401, never land patches here.
 */
export const serviceToken = () => `svc-${randomUUID()}`

/**
 * Spawns `ghost-runner <command>` from source and waits until the child itself logs that it
 * listens, then until /health/live answers. Waiting on the child's own log line matters: another
 * process may hold the port, and its answers must never be taken for this child's. Without a
 * fixed port it takes a free one, and another if a concurrent test took that one first.
 */
export async function spawnService(
  command: string,
  env: Record<string, string>,
  opts: { port?: number; timeoutMs?: number; argv?: readonly string[] } = {},
): Promise<ServiceProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort())
    try {
      return await spawnOn(command, env, port, opts.timeoutMs ?? 20_000, opts.argv)
    } catch (err) {
      if (opts.port !== undefined || attempt === 3 || !(err instanceof PortTaken)) throw err
    }
  }
}

class PortTaken extends Error {}

/**
 * The test runner's environment without the service's own settings: CI sets DATABASE_URL for
 * the PostgreSQL tests, and a service that inherited it would share one schema with every other
 * spawned service instead of using its own data directory.
 */
export function inherited(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GHOST_') && k !== 'DATABASE_URL'))
}

/**
 * Spawns `ghost-runner <command>` from source with exactly `env`, collecting its output; or,
 * given `argv`, that command line as a person would type it in the checkout (`npm start`), as
 * the leader of its own process group so a test can signal the group as a supervisor does.
 */
function spawnCli(command: string, env: NodeJS.ProcessEnv, argv?: readonly string[]): CliProcess {
  const [file, ...args] = argv ?? [process.execPath, '--import', 'tsx', 'src/cli.ts', command]
  const child = spawn(file!, args, {
    cwd: new URL('../..', import.meta.url).pathname,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: argv !== undefined,
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  return { child, output: () => out }
}

/**
 * Spawns `ghost-runner work` and returns at once, without waiting for it to start. It logs at
 * warn unless `env` says otherwise; the database and every GHOST_ setting come from `env` alone.
 * GIT_* in the test's environment may pass: the runner gives its git children their own.
 */
export function spawnWorker(env: Record<string, string>): CliProcess {
  return spawnCli('work', { ...inherited(), LOG_LEVEL: 'warn', ...env })
}

async function spawnOn(command: string, env: Record<string, string>, port: number, timeoutMs: number, argv?: readonly string[]): Promise<ServiceProcess> {
  const { child, output } = spawnCli(command, { ...inherited(), GHOST_PORT: String(port), GHOST_HOST: '127.0.0.1', ...env, LOG_LEVEL: 'info' }, argv)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const out = output()
    if (child.exitCode !== null) {
      if (out.includes('EADDRINUSE')) throw new PortTaken(`port ${port} taken: ${out}`)
      throw new Error(`service exited ${child.exitCode}: ${out}`)
    }
    if (!out.includes(`"msg":"Server listening at ${url}"`)) {
      await new Promise((r) => setTimeout(r, 50))
      continue
    }
    try {
      const res = await fetch(`${url}/health/live`)
      if (res.ok) return { child, url, port, output }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  if (argv !== undefined) killGroup(child.pid!)
  else child.kill('SIGKILL')
  throw new Error(`service did not start within ${timeoutMs} ms: ${output()}`)
}

/** Sends a signal and waits for the exit; the exit code, or null when a signal ended it. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const exited = once(child, 'exit')
  child.kill(signal)
  const [code] = (await exited) as [number | null]
  return code
}

/** SIGKILLs a process group (a test's clean-up of a command it started with `argv`). */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** Every live process under `pid` (not `pid` itself), read from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(Number(entry))
    if (stat === null || stat.state === 'Z') continue
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), Number(entry)])
  }
  const out: number[] = []
  for (let queue = [pid]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? []
    out.push(...next)
    queue.push(...next)
  }
  return out
}

/** Whether `pid` is a running process (a zombie waiting for its parent is not). */
export function running(pid: number): boolean {
  const stat = procStat(pid)
  return stat !== null && stat.state !== 'Z'
}

function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so read after the last ')'.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: state!, ppid: Number(ppid) }
  } catch {
    return null
  }
}
