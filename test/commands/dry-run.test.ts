import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { gitRepo, tempDir, TOKEN } from '../helpers/app.js'
import { file, runCli, serverWithoutRunner } from './cli-harness.js'

const asToken = (url: string) => ({ GHOST_URL: url, GHOST_TOKEN: TOKEN })
const V4A = (...body: string[]) => ['*** Begin Patch', '*** Update File: README.md', ...body, '*** End Patch', ''].join('\n')

describe('ghost-runner dispatch --dry-run', () => {
  it('prints the diff and the stats, queues nothing, exits 0', async () => {
    const { app, url } = await serverWithoutRunner({ workspaces: { default: { path: gitRepo({ 'README.md': '# demo\nsecond\n' }) } } })
    const run = await runCli(['dispatch', '--dry-run', file(tempDir(), 'p.patch', V4A('@@', '-# demo', '+# Demo', ' second'))], asToken(url))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^--- a\/README\.md\n\+\+\+ b\/README\.md\n@@ -1,2 \+1,2 @@\n-# demo\n\+# Demo\n second\n/m)
    assert.match(run.stderr, /would change 1 file\(s\) in default:\n {2}M README\.md \(\+1 -1\)/)
    assert.equal((await app.store.list({ limit: 10 })).items.length, 0)
  })

  it('a patch that would be rejected prints the code and the actual lines, exits 2', async () => {
    const { url } = await serverWithoutRunner({ workspaces: { default: { path: gitRepo({ 'README.md': '# demo\nsecond\n' }) } } })
    const run = await runCli(['dispatch', '--dry-run', file(tempDir(), 'p.patch', V4A('@@', '-# demo!', '+# Demo'))], asToken(url))
    assert.equal(run.code, 2, run.stderr)
    assert.match(run.stderr, /would be rejected: CONTEXT_NOT_FOUND: /)
    assert.match(run.stderr, /lines 1-1 \(similarity [\d.]+\):\n {4}\| # demo/)
  })
})
