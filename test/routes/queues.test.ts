import assert from 'node:assert/strict'
import { it } from 'node:test'
import { newPatchId } from '../../src/ingest/ids.js'
import type { NormalizedPatch } from '../../src/schemas/patch.js'
import type { Queues } from '../../src/schemas/queue.js'
import { auth, gitRepo, testApp } from '../helpers/app.js'

const patch = (target: string): NormalizedPatch => ({ target, client_id: null, format: 'native', description: 'x', operations: [], checks: [], commit: {}, metadata: {} })
const ws = (path: string) => ({ path, branch: 'main', checks: {}, author: { name: 'Ghost Runner', email: 'ghost@example.com' } })

it('GET /queues answers queued and running per workspace, the oldest queued time, and configured workspaces that never had a patch', async () => {
  const app = await testApp({ workspaces: { default: ws(gitRepo()), docs: ws(gitRepo()), idle: ws(gitRepo()) } })
  const enqueue = async (target: string) => {
    const id = newPatchId()
    const { record } = await app.store.enqueue({ id, idempotencyKey: null, bodyHash: id, patch: patch(target) })
    return record
  }
  await enqueue('default')
  const second = await enqueue('default')
  await enqueue('default')
  await enqueue('docs')
  // A lane whose workspace left the configuration still has patches to show.
  await enqueue('retired')
  assert.ok(await app.store.claim('runner-test', { targets: ['default'], leaseMs: 60_000 }))

  const res = await app.inject({ url: '/queues', headers: auth })
  assert.equal(res.statusCode, 200, res.body)
  const { items } = res.json() as Queues
  assert.deepEqual(
    items.map((q) => [q.target, q.queued, q.running, q.configured]),
    [
      ['default', 2, 1, true],
      ['docs', 1, 0, true],
      ['idle', 0, 0, true],
      ['retired', 1, 0, false],
    ],
  )
  assert.equal(items[0]!.oldest_queued_at, second.created_at, 'the oldest still queued: the first was claimed')
  assert.equal(items[2]!.oldest_queued_at, null)

  const anonymous = await app.inject({ url: '/queues' })
  assert.equal(anonymous.statusCode, 401)
})
