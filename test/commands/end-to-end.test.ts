import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gitRepo, tempDir } from '../helpers/app.js'
import { kill, serviceToken, spawnService, type ServiceProcess } from '../helpers/process.js'
import { file, runCli } from './cli-harness.js'

// `ghost-runner start` in its own process, with its runner, applying patches to a real git
// workspace; the CLI is another process, as it would be for a user.
describe('dispatch --wait against `ghost-runner start`', () => {
  let service: ServiceProcess
  // Created here, not in before(): temp dirs made inside a hook are removed when the hook ends.
  const workspace = gitRepo({ 'README.md': '# demo\n', 'src/app.txt': 'hello\n' })
  const dir = tempDir()
  const TOKEN = serviceToken()
  const env = () => ({ GHOST_URL: service.url, GHOST_TOKEN: TOKEN })
  const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8' }).trim()

  before(async () => {
    const config = file(dir, 'ghost.json', {
      workspaces: {
        default: {
          path: workspace,
          branch: 'main',
          checks: {
            test: ['node', '-e', 'process.exit(0)'],
            lint: ['node', '-e', 'console.log("lint: 2 problems found in src/app.txt"); process.exit(3)'],
          },
          checkTimeoutMs: 20_000,
        },
      },
    })
    service = await spawnService(
      'start',
      { GHOST_DATA_DIR: join(dir, 'data'), GHOST_CONFIG: config, GHOST_API_TOKENS: TOKEN, GHOST_DRAIN_DELAY_MS: '0' },
      { timeoutMs: 60_000 },
    )
  })
  after(() => kill(service.child, 'SIGTERM'))

  it('lands a good patch: exit 0, the commit it prints is the workspace HEAD, tagged', async () => {
    const patch = file(dir, 'good.json', {
      target: 'default',
      description: 'greet',
      operations: [{ op: 'write', path: 'hello.txt', contents: 'hi\n' }],
      checks: ['test'],
      commit: { tag: 'greet-1' },
    })
    const run = await runCli(['dispatch', '--wait', patch], env())
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${service.output()}`)
    const sha = /^commit {2}([0-9a-f]{40})$/m.exec(run.stdout)?.[1]
    assert.ok(sha, run.stdout)
    assert.equal(git('rev-parse', 'HEAD'), sha)
    assert.match(run.stdout, /^tag {5}greet-1$/m)
    assert.equal(git('rev-parse', 'greet-1^{commit}'), sha)
    assert.equal(readFileSync(join(workspace, 'hello.txt'), 'utf8'), 'hi\n')
  })

  it('rejects a replace whose text is not in the file: exit 2 with the reason, tree untouched', async () => {
    const head = git('rev-parse', 'HEAD')
    const patch = file(dir, 'bad.json', {
      target: 'default',
      description: 'edit what is not there',
      operations: [{ op: 'replace', path: 'README.md', find: 'no such heading', replace: 'x' }],
    })
    const run = await runCli(['dispatch', '--wait', patch], env())
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`)
    assert.match(run.stderr, /^rejected \S+: CONTEXT_NOT_FOUND: .*README\.md/m)
    assert.equal(git('rev-parse', 'HEAD'), head)
  })

  it('fails a patch whose check fails: exit 1 with the check output tail, tree restored', async () => {
    const head = git('rev-parse', 'HEAD')
    const patch = file(dir, 'lint.json', {
      target: 'default',
      description: 'does not lint',
      operations: [{ op: 'write', path: 'src/app.txt', contents: 'bye\n' }],
    })
    const run = await runCli(['dispatch', '--wait', '--check', 'lint', patch], env())
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`)
    assert.match(run.stderr, /^failed \S+: \S+: /m)
    assert.match(run.stderr, /lint: 2 problems found in src\/app\.txt/)
    assert.equal(git('rev-parse', 'HEAD'), head)
    assert.equal(readFileSync(join(workspace, 'src/app.txt'), 'utf8'), 'hello\n')
  })

  it('applies a unified diff and a V4A patch detected by content', async () => {
    const diff = file(dir, 'readme.diff', '--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# demo\n+# Demo\n')
    const fromDiff = await runCli(['dispatch', '--wait', diff], env())
    assert.equal(fromDiff.code, 0, `${fromDiff.stdout}\n${fromDiff.stderr}`)
    assert.match(fromDiff.stderr, /\(diff → default\)/)
    assert.equal(readFileSync(join(workspace, 'README.md'), 'utf8'), '# Demo\n')

    const v4a = file(dir, 'app.patch', '*** Begin Patch\n*** Update File: src/app.txt\n@@\n-hello\n+hello, world\n*** End Patch\n')
    const fromV4A = await runCli(['dispatch', '--wait', v4a], env())
    assert.equal(fromV4A.code, 0, `${fromV4A.stdout}\n${fromV4A.stderr}`)
    assert.match(fromV4A.stderr, /\(apply_patch → default\)/)
    assert.equal(readFileSync(join(workspace, 'src/app.txt'), 'utf8'), 'hello, world\n')
    assert.equal(git('log', '-1', '--format=%H'), /^commit {2}([0-9a-f]{40})$/m.exec(fromV4A.stdout)?.[1])
  })

  it('status lists what happened', async () => {
    const run = await runCli(['status', '--json'], env())
    assert.equal(run.code, 0, run.stderr)
    const statuses = JSON.parse(run.stdout).items.map((p: { status: string }) => p.status)
    assert.deepEqual(statuses, ['applied', 'applied', 'failed', 'rejected', 'applied'])
  })
})
