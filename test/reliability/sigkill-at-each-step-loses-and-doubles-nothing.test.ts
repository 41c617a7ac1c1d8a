import assert from 'node:assert/strict'
import { it } from 'node:test'
import { arm, checkSettled, checkWhileDead, crashRig, disarm, postUntilDead, settle, start, waitForExit } from './crash-rig.js'
import { kill } from '../helpers/process.js'

// Each step a patch passes, from the webhook's store write to the event row of its outcome; the
// steps where a kill leaves the most behind (a half-written tree, a running check, a commit
// not yet recorded) are hit twice, the second time further in.
const POINTS: [string, number][] = [
  ['enqueued', 1],
  ['claimed', 1],
  ['wrote-file', 2],
  ['check-running', 1],
  ['committed', 1],
  ['recording', 1],
  ['recorded', 1],
  ['wrote-file', 4],
  ['committed', 2],
  ['check-running', 2],
  ['recording', 3],
]

it('a SIGKILL at each step of enqueue, claim, write, check, commit and event write loses no acknowledged patch, applies none twice and leaves no tree half-written', { timeout: 300_000 }, async (t) => {
  const rig = crashRig()
  let svc = await start(rig)
  try {
    for (const [point, nth] of POINTS) {
      const started = Date.now()
      arm(rig, point, nth)
      const control = { stop: false }
      const clients = postUntilDead(rig, svc, control)
      await waitForExit(svc, 15_000, `${point}:${nth}`)
      assert.equal(svc.child.signalCode, 'SIGKILL', `${point}: the service exited on its own\n${svc.output().slice(-2000)}`)
      rig.kills++
      control.stop = true
      await clients
      disarm(rig)
      checkWhileDead(rig)

      svc = await start(rig)
      checkSettled(rig, await settle(rig, svc))
      t.diagnostic(`${point}:${nth} killed, restarted and settled in ${Date.now() - started} ms (${rig.acked.size} acknowledged so far)`)
    }
    const { applied } = checkSettled(rig, await settle(rig, svc))
    assert.equal(rig.kills, POINTS.length)
    assert.ok(applied >= rig.acked.size, `${applied} applied of ${rig.acked.size} acknowledged`)
  } finally {
    await kill(svc.child)
  }
})
