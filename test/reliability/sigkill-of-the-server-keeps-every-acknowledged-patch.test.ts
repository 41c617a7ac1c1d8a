import { it } from 'node:test'
import assert from 'node:assert/strict'
import { gitRepo, tempDir } from '../helpers/app.js'
import { kill, serviceToken, spawnService } from '../helpers/process.js'

// Nothing accepted may be lost: every 202 is sent after the patch's transaction committed, so a
// SIGKILL at any moment keeps every patch a client was told about.
it('keeps every 202-acknowledged patch across a SIGKILL of the server', async () => {
  const dataDir = tempDir()
  const TOKEN = serviceToken()
  const env = { GHOST_DATA_DIR: dataDir, GHOST_API_TOKENS: TOKEN, GHOST_WORKSPACES: `default=${gitRepo()}` }
  let svc = await spawnService('serve', env)
  const acknowledged = new Set<string>()
  let stop = false
  const client = async (n: number) => {
    for (let i = 0; !stop; i++) {
      try {
        const res = await fetch(`${svc.url}/webhook`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ target: 'default', description: `c${n}-${i}`, operations: [{ op: 'write', path: `f${n}.txt`, contents: `${i}\n` }] }),
        })
        if (res.status === 202) acknowledged.add(((await res.json()) as { id: string }).id)
      } catch {
        return // the server died under us
      }
    }
  }
  const clients = Array.from({ length: 8 }, (_, n) => client(n))
  while (acknowledged.size < 150) await new Promise((r) => setTimeout(r, 10))
  await kill(svc.child, 'SIGKILL')
  stop = true
  await Promise.all(clients)

  // A fresh port: the old one may already belong to another test's service.
  svc = await spawnService('serve', env)
  try {
    const missing: string[] = []
    for (const id of acknowledged) {
      const res = await fetch(`${svc.url}/patches/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
      if (res.status !== 200) missing.push(id)
      else assert.equal(((await res.json()) as { status: string }).status, 'queued')
    }
    assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.size} acknowledged patches lost`)
  } finally {
    await kill(svc.child, 'SIGKILL')
  }
})
