import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, rmdirSync } from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { findPidsParent, makeCheckCgroup } from '../../../src/runner/checks/sandbox/cgroup.js'

const parent = await findPidsParent()
const made: string[] = []
after(() => {
  for (const dir of made) if (existsSync(dir)) rmdirSync(dir)
})

const cgroupModule = new URL('../../../src/runner/checks/sandbox/cgroup.ts', import.meta.url).href

/** Another service process starting: its start-up sweep runs in a process of its own. */
function sweepFromAnotherProcess(): void {
  execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { findPidsParent } = await import(${JSON.stringify(cgroupModule)}); await findPidsParent()`], { stdio: 'pipe' })
}

describe('the start-up sweep of check cgroups', { skip: parent === null ? 'no writable pids cgroup on this host' : false }, () => {
  it("leaves a live process's check cgroup alone, even while it is still empty", async () => {
    // Made and not yet joined: the moment a check is being started.
    const mine = await makeCheckCgroup(parent!, 8)
    made.push(mine)
    sweepFromAnotherProcess()
    assert.ok(existsSync(mine), `another process's sweep removed ${mine}, which this live process was about to use`)
  })

  it('removes an empty check cgroup whose owner is gone', async () => {
    const gone = spawnSync('true').pid!
    const dir = path.join(parent!, `ghost-check-${gone}-${randomBytes(6).toString('hex')}`)
    mkdirSync(dir)
    made.push(dir)
    sweepFromAnotherProcess()
    assert.equal(existsSync(dir), false, 'the cgroup of a process that is gone was left behind')
  })
})
