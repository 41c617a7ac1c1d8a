import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.js'
import type { ConfigOverrides } from '../../src/config.js'
import type { Store } from '../../src/store/port.js'
import { testConfig } from '../helpers/app.js'
import { inherited } from '../helpers/process.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `ghost-runner <args>` from source as a user would, in an environment cleaned of the
 * developer's GHOST_* variables, DATABASE_URL (see inherited()) and NO_COLOR, so nothing from
 * the shell decides a result.
 */
export function runCli(args: string[], env: Record<string, string> = {}, opts: { input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const { NO_COLOR: _, ...base } = inherited()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  child.stdin.end(opts.input ?? '')
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A file in `dir` holding `contents`; returns its path. */
export function file(dir: string, name: string, contents: string | object): string {
  const path = join(dir, name)
  writeFileSync(path, typeof contents === 'string' ? contents : JSON.stringify(contents, null, 2))
  return path
}

/** The server in this process, listening on a free port, without a runner: tests play the runner through the store. */
export async function serverWithoutRunner(overrides: ConfigOverrides = {}) {
  const app = await buildApp(testConfig(overrides))
  after(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return { app, url: `http://127.0.0.1:${port}` }
}

/** Claims the next patch once one is queued, as a runner would; the CLI under test is meanwhile following it. */
export async function claimNext(store: Store, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const claimed = await store.claim('test-runner', { targets: null, leaseMs: 60_000 })
    if (claimed) return claimed
    await sleep(50)
  }
  assert.fail('no patch was queued')
}
