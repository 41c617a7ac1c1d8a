import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { spawner, SpawnerLostError } from '../../../src/runner/process/spawner.js'
import { git, GitError } from '../../../src/runner/workspace/git.js'
import { tempDir } from '../../helpers/app.js'

const run = (file: string, args: string[], more: { timeoutMs?: number; input?: string } = {}) =>
  spawner.run({ file, args, cwd: tempDir(), env: { PATH: process.env.PATH }, timeoutMs: more.timeoutMs ?? 10_000, maxBuffer: 1 << 20, input: more.input })

it('runs commands in a helper process: output, exit codes, stdin, bytes kept exact', async () => {
  const ok = await run('git', ['--version'])
  assert.equal(ok.exitCode, 0)
  assert.match(ok.stdout.toString(), /^git version /)
  assert.notEqual(spawner.pid, null)
  assert.notEqual(spawner.pid, process.pid)

  const failed = await run('git', ['rev-parse', '--show-toplevel'])
  assert.equal(failed.exitCode, 128)
  assert.match(failed.stderr.toString(), /not a git repository/)
  await assert.rejects(git(['rev-parse', '--show-toplevel'], { cwd: tempDir() }), (err: unknown) => err instanceof GitError && err.exitCode === 128)

  const echoed = await run('cat', [], { input: 'a\u00e9\0b\n' })
  assert.deepEqual(echoed.stdout, Buffer.from('a\u00e9\0b\n'))

  const missing = await run('no-such-binary-here', [])
  assert.equal(missing.exitCode, null)
  assert.match(missing.error ?? '', /ENOENT/)
})

it('kills a command at its timeout', async () => {
  const slow = await run('sleep', ['30'], { timeoutMs: 200 })
  assert.equal(slow.exitCode, null)
  assert.equal(slow.killed, true)
})

it('a helper that dies fails the commands in flight, and the next command starts a new one', async () => {
  await run('true', [])
  const first = spawner.pid!
  const inFlight = run('sleep', ['30'])
  process.kill(first, 'SIGKILL')
  await assert.rejects(inFlight, SpawnerLostError)
  const again = await run('git', ['--version'])
  assert.equal(again.exitCode, 0)
  assert.notEqual(spawner.pid, first)
})

it('does not keep its parent alive once idle', () => {
  const script = "import('./src/runner/workspace/git.ts').then((m) => m.git(['--version'], { cwd: '.' })).then((out) => process.stdout.write(out))"
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../../..', import.meta.url).pathname, encoding: 'utf8', timeout: 30_000 })
  assert.equal(res.error, undefined, 'the process exited by itself')
  assert.equal(res.status, 0, res.stderr)
  assert.match(res.stdout, /^git version /)
})
