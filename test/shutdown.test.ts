import { it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { gitRepo, tempDir } from './helper.js'
import { kill, serviceToken, spawnService } from './process.js'

const status = async (url: string) => {
  try {
    return (await fetch(url)).status
  } catch {
    return 'refused' as const
  }
}

// Load balancers must see readiness fail before connections are refused: on SIGTERM the
// listener stays open for the drain delay with /health/ready 503 and /health/live 200.
it('SIGTERM: ready turns 503 at once, live stays 200 until the listener closes, exit 0', async () => {
  const env = { GHOST_DATA_DIR: tempDir(), GHOST_API_TOKENS: serviceToken(), GHOST_WORKSPACES: `default=${gitRepo()}`, GHOST_DRAIN_DELAY_MS: '2500' }
  const svc = await spawnService('start', env)
  try {
    for (let i = 0; i < 200 && (await status(`${svc.url}/health/ready`)) !== 200; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(await status(`${svc.url}/health/ready`), 200, svc.output())

    const exited = once(svc.child, 'exit')
    svc.child.kill('SIGTERM')
    let ready: number | string = 200
    for (let i = 0; i < 40 && ready === 200; i++) {
      ready = await status(`${svc.url}/health/ready`)
      if (ready === 200) await new Promise((r) => setTimeout(r, 25))
    }
    assert.equal(ready, 503, 'readiness did not turn 503 after SIGTERM')
    assert.equal(await status(`${svc.url}/health/live`), 200, 'liveness must stay green while draining')

    const [code] = await exited
    assert.equal(code, 0, svc.output())
    assert.equal(await status(`${svc.url}/health/live`), 'refused')
  } finally {
    await kill(svc.child)
  }
})
