import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { bwrapArgv, type SandboxSpec } from '../../../src/runner/checks/sandbox/mounts.js'

const spec = (over: Partial<SandboxSpec>): SandboxSpec => ({
  workspace: '/srv/data/workspaces/app',
  gitDir: '/srv/data/workspaces/app/.git',
  hidden: [],
  reveal: [],
  privateDirs: ['/tmp'],
  tmpBytes: 1024,
  network: false,
  env: { PATH: '/usr/bin' },
  ...over,
})

/** The mount operations in order, as [option, destination]. */
function mounts(argv: string[]): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--tmpfs' || a === '--dir' || a === '--remount-ro') out.push([a, argv[i + 1]!])
    else if (a === '--bind' || a === '--ro-bind') out.push([a === '--ro-bind' && argv[i + 1] === '/dev/null' ? '--null' : a, argv[i + 2]!])
  }
  return out
}

describe('the bubblewrap argv', () => {
  it('hides the data directory, then binds the workspace in it again, writable, and its git dir read-only', () => {
    const argv = bwrapArgv('bwrap', spec({ hidden: [{ path: '/srv/data', directory: true }, { path: '/etc/ghost.yaml', directory: false }] }))
    assert.deepEqual(mounts(argv), [
      ['--ro-bind', '/'],
      ['--tmpfs', '/tmp'],
      ['--dir', '/tmp/home'],
      ['--tmpfs', '/srv/data'],
      ['--null', '/etc/ghost.yaml'],
      ['--bind', '/srv/data/workspaces/app'],
      ['--ro-bind', '/srv/data/workspaces/app/.git'],
      ['--remount-ro', '/srv/data'],
    ])
    assert.ok(argv.includes('--unshare-net') && argv.includes('--die-with-parent') && argv.includes('--new-session') && argv.includes('--clearenv'))
    assert.equal(argv.at(-1), '--')
  })

  it('never hides the workspace, its git dir, or what lies inside them; drops what another hidden path covers', () => {
    const argv = bwrapArgv('bwrap', spec({
      hidden: [
        { path: '/srv/data/workspaces/app', directory: true },
        { path: '/srv/data/workspaces/app/secret.pem', directory: false },
        { path: '/tmp/other-workspace', directory: true },
        { path: '/', directory: true },
        { path: '/run', directory: true },
        { path: '/run/postgresql', directory: true },
      ],
    }))
    const hidden = mounts(argv).filter(([op]) => op === '--tmpfs' || op === '--null').map(([, p]) => p)
    assert.deepEqual(hidden, ['/tmp', '/run'])
  })

  it('shares the network only when told, and shows resolv.conf again under a hidden /run', () => {
    const argv = bwrapArgv('bwrap', spec({ network: true, hidden: [{ path: '/run', directory: true }], reveal: ['/run/systemd/resolve/stub-resolv.conf', '/etc/resolv.conf'] }))
    assert.ok(!argv.includes('--unshare-net'))
    assert.deepEqual(mounts(argv).filter(([op]) => op === '--ro-bind').map(([, p]) => p), ['/', '/run/systemd/resolve/stub-resolv.conf', '/srv/data/workspaces/app/.git'])
  })
})
