import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DIFF_MAX_BYTES } from '../../src/diff/commit-diff.js'
import { newPatchId } from '../../src/ingest/ids.js'
import type { NormalizedPatch } from '../../src/schemas/patch.js'
import type { PatchResult } from '../../src/schemas/record.js'
import { auth, tempDir, testApp } from '../helpers/app.js'
import { git, makeWorkspace } from '../helpers/git.js'

type App = Awaited<ReturnType<typeof testApp>>

const workspace = (path: string) => ({ default: { path, branch: 'main', checks: {}, author: { name: 'Ghost Runner', email: 'ghost@example.com' } } })

const patch: NormalizedPatch = { target: 'default', client_id: null, format: 'native', description: 'x', operations: [], checks: [], commit: {}, metadata: {} }

/** A patch taken through the store as the runner would: queued, claimed, then ended as asked. */
async function recorded(app: App, end: { commit: string } | 'queued' | 'failed') {
  const id = newPatchId()
  await app.store.enqueue({ id, idempotencyKey: null, bodyHash: id, patch })
  if (end === 'queued') return id
  const claimed = await app.store.claim('runner-test', { targets: ['default'], leaseMs: 60_000 })
  assert.equal(claimed?.record.id, id)
  const result: PatchResult = { commit: end === 'failed' ? null : end.commit, tag: null, files: [], checks: [], durations_ms: {} }
  if (end === 'failed') await app.store.fail(id, claimed.token, 'failed', { code: 'CHECK_FAILED', message: 'check test failed' }, result)
  else assert.ok(await app.store.complete(id, claimed.token, result))
  return id
}

const head = (root: string) => git(root, 'rev-parse', 'HEAD').trim()

describe('GET /patches/{id}/diff', () => {
  it("answers the diff of the patch's own commit, renames detected, as text/x-diff that is never sniffed", async () => {
    const root = makeWorkspace({ 'a.txt': 'one\ntwo\n', 'old-name.txt': 'kept\nas\nit\nwas\n' })
    writeFileSync(join(root, 'earlier.txt'), 'an earlier commit\n')
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'earlier')
    writeFileSync(join(root, 'a.txt'), 'one\nTWO\nthree\n')
    git(root, 'mv', 'old-name.txt', 'new-name.txt')
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'the patch')
    const app = await testApp({ workspaces: workspace(root) })
    const id = await recorded(app, { commit: head(root) })

    const res = await app.inject({ url: `/patches/${id}/diff`, headers: auth })
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.headers['content-type'] as string, /^text\/x-diff; charset=utf-8/)
    assert.equal(res.headers['x-content-type-options'], 'nosniff')
    assert.equal(res.headers['diff-truncated'], undefined)
    assert.match(res.body, /^diff --git a\/a\.txt b\/a\.txt\n/)
    assert.match(res.body, /\n-two\n\+TWO\n\+three\n/)
    assert.match(res.body, /\nrename from old-name\.txt\nrename to new-name\.txt\n/)
    assert.doesNotMatch(res.body, /earlier/, 'only the patch commit, not its ancestors')
  })

  it('shows a root commit whole', async () => {
    const root = tempDir('gr-root-')
    git(root, 'init', '-q', '-b', 'main')
    writeFileSync(join(root, 'first.txt'), 'hello\n')
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'root')
    const app = await testApp({ workspaces: workspace(root) })
    const res = await app.inject({ url: `/patches/${await recorded(app, { commit: head(root) })}/diff`, headers: auth })
    assert.equal(res.statusCode, 200, res.body)
    assert.match(res.body, /new file mode 100644[\s\S]*\+hello\n/)
  })

  it('answers 409 NOT_APPLIED for a patch without a commit, 404 NOT_FOUND for no patch', async () => {
    const app = await testApp({ workspaces: workspace(makeWorkspace()) })
    // Failed first: a queued patch would hold its lane's head.
    for (const end of ['failed', 'queued'] as const) {
      const id = await recorded(app, end)
      const res = await app.inject({ url: `/patches/${id}/diff`, headers: auth })
      assert.equal(res.statusCode, 409, res.body)
      assert.equal(res.json().code, 'NOT_APPLIED')
      assert.match(res.json().title, new RegExp(`it is ${end}`))
    }
    const res = await app.inject({ url: '/patches/pt_0mx0k8cw37Uh0rABtekjp/diff', headers: auth })
    assert.equal(res.statusCode, 404)
    assert.equal(res.json().code, 'NOT_FOUND')
  })

  it('answers 409 DIFF_UNAVAILABLE where this server cannot read the commit: no repository here, another repository, a repository above the path', async () => {
    const root = makeWorkspace({ 'a.txt': 'a\n' })
    writeFileSync(join(root, 'a.txt'), 'b\n')
    git(root, 'commit', '-q', '-am', 'change')
    const commit = head(root)
    const nested = join(root, 'sub')
    mkdirSync(nested)
    const elsewhere = { missing: join(tempDir(), 'not-here'), other: makeWorkspace({ 'a.txt': 'a\n' }), nested }
    for (const [why, path] of Object.entries(elsewhere)) {
      const app = await testApp({ workspaces: workspace(path) })
      const res = await app.inject({ url: `/patches/${await recorded(app, { commit })}/diff`, headers: auth })
      assert.equal(res.statusCode, 409, `${why}: ${res.body}`)
      assert.equal(res.json().code, 'DIFF_UNAVAILABLE', why)
    }
  })

  it(`stays within ${DIFF_MAX_BYTES / 1024} KiB by leaving out whole files from the end, and says so`, async () => {
    const root = makeWorkspace({ 'README.md': '# big\n' })
    // 24 files of about 64 KiB each: about 1.5 MiB of diff.
    const line = `${'x'.repeat(63)}\n`
    for (let i = 0; i < 24; i++) writeFileSync(join(root, `f${String(i).padStart(2, '0')}.txt`), line.repeat(1024))
    git(root, 'add', '-A')
    git(root, 'commit', '-q', '-m', 'big')
    const app = await testApp({ workspaces: workspace(root) })
    const res = await app.inject({ url: `/patches/${await recorded(app, { commit: head(root) })}/diff`, headers: auth })
    assert.equal(res.statusCode, 200, res.body.slice(0, 300))
    assert.equal(res.headers['diff-truncated'], 'true')
    assert.ok(res.rawPayload.length <= DIFF_MAX_BYTES, `${res.rawPayload.length} bytes`)
    const files = res.body.split(/^diff --git /m).slice(1)
    assert.ok(files.length >= 10 && files.length < 24, `${files.length} files shown`)
    for (const file of files) assert.ok(file.endsWith(`+${line}`), 'every file shown is whole')
  })
})
