import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after } from 'node:test'
import { buildApp, type BuildOptions } from '../../src/app.js'
import { sign } from '../../src/auth/webhook-signature.js'
import { defineConfig, type Config, type ConfigOverrides } from '../../src/config.js'
import { recordResponses } from '../contract/record-responses.js'
import { writeTree } from './git.js'
import { tempDir } from './temp.js'

export const TOKEN = 'test-token-0123456789abcdef'
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/** A temporary directory removed when the test file ends. */
export { tempDir }

/** A git repository with one commit holding `files`. */
export function gitRepo(files: Record<string, string> = { 'README.md': '# demo\n' }, dir = tempDir('gr-ws-')): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' })
  git('init', '-q', '-b', 'main')
  git('config', 'user.name', 'Test')
  git('config', 'user.email', 'test@example.com')
  writeTree(dir, files)
  git('add', '-A')
  git('commit', '-q', '-m', 'initial')
  return dir
}

/** A validated config for tests: temp data dir, one workspace `default`, auth by token and secret. */
export function testConfig(overrides: ConfigOverrides = {}): Config {
  const dataDir = overrides.dataDir ?? tempDir()
  return defineConfig({
    dataDir,
    port: 0,
    logLevel: 'silent',
    apiTokens: [TOKEN],
    webhookSecrets: [SECRET],
    drainDelayMs: 0,
    workspaces: {
      default: {
        path: overrides.workspaces ? '' : gitRepo(),
        branch: 'main',
        checks: { test: ['node', '-e', 'process.exit(0)'] },
        checkTimeoutMs: 10_000,
        author: { name: 'Ghost Runner', email: 'ghost@example.com' },
        tagPrefix: '',
      },
    },
    ...overrides,
  })
}

/**
 * Builds the app on a fresh temp data dir and closes it when the test file ends. Every response
 * it sends is checked against openapi.yaml (test/contract/): once the app is closed, any that
 * departed from the contract fails the file.
 */
export async function testApp(overrides: ConfigOverrides = {}, opts: BuildOptions = {}) {
  const config = testConfig(overrides)
  const violations: string[] = []
  const app = await buildApp(config, { instrument: recordResponses(violations), ...opts })
  after(async () => {
    await app.close()
    assert.deepEqual(violations, [], 'responses that depart from openapi.yaml')
  })
  await app.ready()
  return app
}

export const auth = { authorization: `Bearer ${TOKEN}` }

/**
 * Standard Webhooks headers for a JSON `payload`, signed with `secret` (SECRET unless named),
 * under `id` (a fresh one unless named) at `ts` (now unless named, in seconds).
 */
export function signedHeaders(payload: string, opts: { secret?: string; id?: string; ts?: number } = {}): Record<string, string> {
  const { secret = SECRET, id = `msg_${Math.random()}`, ts = Math.floor(Date.now() / 1000) } = opts
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': sign(secret, id, ts, payload),
  }
}

/**
 * Polls `fn` every 50 ms until it returns something truthy, and returns that. Past `timeoutMs`
 * the test fails naming `what`, with `output()` (a spawned process's log, say) to show why.
 */
export async function until<T>(what: string, fn: () => Promise<T>, timeoutMs: number, output: () => string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\n${output()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
