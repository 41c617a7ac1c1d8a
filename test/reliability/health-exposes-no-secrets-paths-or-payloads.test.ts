import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { openSqliteStore } from '../../src/store/sqlite/index.js'
import type { Config } from '../../src/config.js'
import { SECRET, TOKEN, auth, tempDir, testApp, testConfig } from '../helpers/app.js'

const PAYLOAD_MARK = 'payload-text-that-must-stay-private'
const ROUTES = ['/health', '/health/live', '/health/startup', '/health/ready']

/**
 * An app whose data directory cannot be written (it lies below a regular file), so the probes
 * fail with output that names the path and the errno, and which holds a stored patch.
 */
async function failingApp(exposeDetail: boolean) {
  const base = tempDir()
  writeFileSync(path.join(base, 'file'), '')
  const store = await openSqliteStore({ file: path.join(base, 'ghost-runner.db') })
  const config = testConfig({ dataDir: path.join(base, 'file', 'data'), health: { intervalMs: 1000, exposeDetail } as Config['health'] })
  const app = await testApp(config, { store })
  const posted = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: { target: 'default', description: PAYLOAD_MARK, operations: [{ op: 'write', path: 'a.txt', contents: PAYLOAD_MARK }] } })
  assert.equal(posted.statusCode, 202, posted.body)
  const deadline = Date.now() + 10_000
  while (!(await app.inject({ url: '/health', headers: auth })).body.includes('ENOTDIR')) {
    if (Date.now() > deadline) assert.fail('fs_writable never reported its failure')
    await new Promise((r) => setTimeout(r, 50))
  }
  const secrets = [TOKEN, SECRET, SECRET.slice('whsec_'.length), base, config.workspaces.default!.path, PAYLOAD_MARK, 'ENOTDIR', 'not writable']
  return { app, secrets, store }
}

const bodies = async (app: Awaited<ReturnType<typeof testApp>>, headers: Record<string, string> = {}) => {
  const out: string[] = []
  for (const url of ROUTES) {
    for (const accept of ['application/json', 'application/health+json']) out.push((await app.inject({ url, headers: { ...headers, accept } })).body)
  }
  return out.join('\n')
}

it('health bodies carry no token, secret, path, errno or payload for an anonymous caller; failure output only with a valid token', async () => {
  const { app, secrets, store } = await failingApp(false)
  try {
    const anonymous = await bodies(app)
    for (const s of secrets) assert.ok(!anonymous.includes(s), `an anonymous health body shows ${JSON.stringify(s)}`)
    // A wrong token is anonymous too.
    const wrong = await bodies(app, { authorization: 'Bearer wrong-token-0123456789abc' })
    for (const s of secrets) assert.ok(!wrong.includes(s), `a health body for a wrong token shows ${JSON.stringify(s)}`)
    // The failure output exists and a token holder sees it: the checks above look at something real.
    const detailed = await bodies(app, auth)
    assert.ok(detailed.includes('ENOTDIR'), 'a token holder sees why fs_writable fails')
    for (const s of [TOKEN, SECRET, PAYLOAD_MARK]) assert.ok(!detailed.includes(s), `even a token holder is never shown ${JSON.stringify(s)}`)
  } finally {
    await app.close()
    await store.close()
  }
})

it('health.exposeDetail shows failure output to anonymous callers, still never a credential or payload', async () => {
  const { app, store } = await failingApp(true)
  try {
    const anonymous = await bodies(app)
    assert.ok(anonymous.includes('ENOTDIR'))
    for (const s of [TOKEN, SECRET, PAYLOAD_MARK]) assert.ok(!anonymous.includes(s), `exposeDetail shows ${JSON.stringify(s)}`)
  } finally {
    await app.close()
    await store.close()
  }
})
