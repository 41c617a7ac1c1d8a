import assert from 'node:assert/strict'
import { it } from 'node:test'
import { loadConfig } from '../../src/config.js'
import type { NotificationPayload } from '../../src/schemas/notification.js'
import { subscriptionsOf } from '../../src/notify/targets.js'
import { openStore } from '../../src/store/open.js'
import { gitRepo, tempDir } from '../helpers/app.js'
import { spawnWorker } from '../helpers/process.js'
import { receiver, until } from './receiver.js'

const SECRET = 'whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMzQ1Njc4OQ=='

it('`ghost-runner work` sends notifications too, and never logs the secret or the URL query', async () => {
  const hook = await receiver()
  const dataDir = tempDir()
  const env = {
    GHOST_DATA_DIR: dataDir,
    GHOST_WORKSPACES: `default=${gitRepo()}`,
    GHOST_NOTIFY_URLS: `${hook.url}?token=query-secret`,
    GHOST_NOTIFY_SECRET: SECRET,
  }
  // A gateway's part, through the store: the patch is queued (and its notification recorded).
  const config = loadConfig(env, [], dataDir)
  const store = await openStore(config, { subscriptions: subscriptionsOf(config) })
  const patch = { target: 'default', client_id: null, format: 'native' as const, description: 'w', operations: [{ op: 'write' as const, path: 'w.txt', contents: 'w\n' }], checks: [], commit: {}, metadata: {} }
  const { record } = await store.enqueue({ id: 'p_worker', idempotencyKey: null, bodyHash: 'h', patch })
  await store.close()

  // The same (SQLite) store as above, whatever the shell exports: spawnWorker passes on no
  // DATABASE_URL or GHOST_* of its own.
  const { child, output } = spawnWorker({ ...env, LOG_LEVEL: 'debug' })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  try {
    const got = await hook.waitFor(3, 30_000)
    const bodies = got.map((r) => JSON.parse(r.body.toString('utf8')) as NotificationPayload)
    assert.deepEqual(bodies.map((b) => [b.type, b.data.id]), [
      ['patch.queued', record.id],
      ['patch.running', record.id],
      ['patch.applied', record.id],
    ])
    await until(() => output().includes('notification delivered'), 'the delivery logged')
  } finally {
    child.kill('SIGTERM')
  }
  assert.equal(await exited, 0, output())
  assert.ok(output().includes('notification dispatcher started'), output())
  assert.ok(!output().includes(SECRET.slice(6)), 'the secret is never logged')
  assert.ok(!output().includes('query-secret'), 'nor the query string of a URL')
})
