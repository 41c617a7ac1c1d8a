import assert from 'node:assert/strict'
import { it } from 'node:test'
import { checkSettled, checkWhileDead, crashRig, postUntilDead, settle, start } from './crash-rig.js'
import { kill } from '../helpers/process.js'

// `npm run soak` multiplies the work (GHOST_SOAK_FACTOR); `npm test` runs it once.
const SOAK = Number(process.env.GHOST_SOAK_FACTOR ?? 1)
const KILLS = 10 * SOAK

// A small seeded generator, so a failing run can be replayed with GHOST_CRASH_SEED.
function prng(seed: number) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

it('a SIGKILL at random moments while clients post loses no acknowledged patch, applies none twice and leaves no tree half-written', { timeout: 300_000 * SOAK }, async (t) => {
  const seed = Number(process.env.GHOST_CRASH_SEED ?? Date.now() % 1_000_000)
  t.diagnostic(`seed ${seed} (GHOST_CRASH_SEED=${seed} replays the kill delays)`)
  const random = prng(seed)
  const rig = crashRig()
  let svc = await start(rig)
  try {
    for (let round = 0; round < KILLS; round++) {
      const started = Date.now()
      const control = { stop: false }
      const clients = postUntilDead(rig, svc, control, 5)
      // Anywhere from the first post to well into the runner's work on the batch.
      await new Promise((r) => setTimeout(r, 50 + random() * 1500))
      await kill(svc.child)
      rig.kills++
      control.stop = true
      await clients
      checkWhileDead(rig)

      svc = await start(rig)
      checkSettled(rig, await settle(rig, svc))
      t.diagnostic(`kill ${round + 1} done in ${Date.now() - started} ms (${rig.acked.size} acknowledged so far)`)
    }
    assert.equal(rig.kills, KILLS)
    assert.ok(rig.acked.size > 0)
  } catch (err) {
    throw Object.assign(err as Error, { message: `${(err as Error).message}\n(seed ${seed})` })
  } finally {
    await kill(svc.child)
  }
})
