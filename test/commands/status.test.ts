import { before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { auth, TOKEN } from '../helpers/app.js'
import { runCli, serverWithoutRunner } from './cli-harness.js'

const SHA = 'b'.repeat(40)

const OPERATOR = 'operator-token-0123456789'
const AGENT = 'agent-token-0123456789abc'

// At the top level, so the server and its temp dirs live until the file ends.
const { app, url } = await serverWithoutRunner({
  credentials: [
    { name: 'operator', token: OPERATOR, rights: { admin: true } },
    { name: 'docs-agent', token: AGENT, workspaces: ['default'], rights: { dispatch: true, read: 'own' } },
  ],
})
const ids = { applied: '', rejected: '', queued: '' }
const env = () => ({ GHOST_URL: url, GHOST_TOKEN: TOKEN })

describe('ghost-runner status', () => {
  before(async () => {
    const send = async (description: string) => {
      const res = await app.inject({
        method: 'POST',
        url: '/webhook',
        headers: auth,
        payload: { target: 'default', description, operations: [{ op: 'write', path: 'f.txt', contents: description }] },
      })
      assert.equal(res.statusCode, 202, res.body)
      return res.json().id as string
    }
    // One lane, so each claim takes the oldest queued patch: the one just sent.
    ids.applied = await send('lands cleanly')
    const first = (await app.store.claim('test-runner', { targets: null, leaseMs: 60_000 }))!
    assert.ok(await app.store.complete(first.record.id, first.token, { commit: SHA, tag: 'v9', files: [], checks: [], durations_ms: {} }))
    ids.rejected = await send('cannot apply')
    const second = (await app.store.claim('test-runner', { targets: null, leaseMs: 60_000 }))!
    assert.ok(await app.store.fail(second.record.id, second.token, 'rejected', { code: 'CONTEXT_NOT_FOUND', message: 'anchor not found in f.txt' }, null))
    ids.queued = await send('still waiting')
  })

  it('prints a table of recent patches, newest first', async () => {
    const run = await runCli(['status'], env())
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout.trimEnd().split('\n')
    assert.match(lines[0]!, /^ID\s+STATUS\s+TARGET\s+AGE\s+BY\s+DESCRIPTION$/)
    assert.equal(lines.length, 4)
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/))
    assert.deepEqual(
      rows.map((r) => [r[0], r[1], r[2], r[4], r[5]]),
      [
        [ids.queued, 'queued', 'default', 'token-1', 'still waiting'],
        [ids.rejected, 'rejected', 'default', 'token-1', 'cannot apply'],
        [ids.applied, 'applied', 'default', 'token-1', 'lands cleanly'],
      ],
    )
    for (const r of rows) assert.match(r[3]!, /^\d+[smhd]$/)
  })

  it('filters and pages: --status, --limit, --cursor', async () => {
    const applied = await runCli(['status', '--status', 'applied'], env())
    assert.equal(applied.code, 0, applied.stderr)
    assert.equal(applied.stdout.trimEnd().split('\n').length, 2)
    assert.match(applied.stdout, new RegExp(ids.applied))

    const page = await runCli(['status', '--limit', '2'], env())
    const cursor = /--cursor (\S+)$/m.exec(page.stdout)?.[1]
    assert.ok(cursor, page.stdout)
    const next = await runCli(['status', '--limit', '2', '--cursor', cursor], env())
    assert.match(next.stdout, new RegExp(`^${ids.applied}\\s`, 'm'))
    assert.doesNotMatch(next.stdout, /--cursor/)

    const bad = await runCli(['status', '--status', 'done'], env())
    assert.equal(bad.code, 64)
    assert.match(bad.stderr, /--status expects one of queued, running/)
  })

  it('--json prints the page as one JSON document', async () => {
    const run = await runCli(['status', '--json'], env())
    assert.equal(run.code, 0, run.stderr)
    const page = JSON.parse(run.stdout)
    assert.deepEqual(page.items.map((p: { id: string }) => p.id), [ids.queued, ids.rejected, ids.applied])
    assert.equal(page.next_cursor, null)
  })

  it('shows one patch with its events; --json prints its record', async () => {
    const run = await runCli(['status', ids.applied], env())
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^status\s+applied$/m)
    assert.match(run.stdout, /^submitted by\s+token-1$/m)
    assert.doesNotMatch(run.stdout, /cancelled by/)
    assert.match(run.stdout, new RegExp(`^commit\\s+${SHA}$`, 'm'))
    assert.match(run.stdout, /^#\s+AT\s+STATUS\s+REASON\s+DETAIL$/m)
    assert.match(run.stdout, /^1\s+\S+\s+queued\s+enqueued\s+token-1$/m)
    assert.match(run.stdout, /^2\s+\S+\s+running\s+claimed\s+test-runner$/m)
    assert.match(run.stdout, new RegExp(`^3\\s+\\S+\\s+applied\\s+completed\\s+${SHA}$`, 'm'))

    const rejected = await runCli(['status', ids.rejected], env())
    assert.match(rejected.stdout, /CONTEXT_NOT_FOUND: anchor not found in f\.txt/)

    const json = await runCli(['status', ids.rejected, '--json'], env())
    const record = JSON.parse(json.stdout)
    assert.equal(record.id, ids.rejected)
    assert.deepEqual(record.events.map((e: { status: string }) => e.status), ['queued', 'running', 'rejected'])
  })

  it('prints a server problem for an unknown id and exits 4', async () => {
    const run = await runCli(['status', 'no-such-patch'], env())
    assert.equal(run.code, 4)
    assert.equal(run.stderr.trim(), 'NOT_FOUND: No patch no-such-patch')
    const unauthorised = await runCli(['status'], { GHOST_URL: url })
    assert.equal(unauthorised.code, 4)
    assert.match(unauthorised.stderr, /^UNAUTHORIZED: Credentials required — /)
  })

  it('shows who cancelled a patch, and lists and shows only what the token may read', async () => {
    const res = await app.inject({ method: 'POST', url: `/patches/${ids.queued}/cancel`, headers: { authorization: `Bearer ${OPERATOR}` } })
    assert.equal(res.statusCode, 200, res.body)
    const run = await runCli(['status', ids.queued], { GHOST_URL: url, GHOST_TOKEN: OPERATOR })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^submitted by\s+token-1$/m)
    assert.match(run.stdout, /^cancelled by\s+operator$/m)
    assert.match(run.stdout, /^2\s+\S+\s+cancelled\s+cancelled_by_client\s+operator$/m)

    // docs-agent reads only its own patches: none of the above.
    const agent = { GHOST_URL: url, GHOST_TOKEN: AGENT }
    const none = await runCli(['status'], agent)
    assert.equal(none.code, 0, none.stderr)
    assert.equal(none.stdout.trim(), 'No patches.')
    const hidden = await runCli(['status', ids.applied], agent)
    assert.equal(hidden.code, 4)
    assert.equal(hidden.stderr.trim(), `NOT_FOUND: No patch ${ids.applied}`)
    const sent = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { authorization: `Bearer ${AGENT}` },
      payload: { target: 'default', description: 'mine', operations: [{ op: 'write', path: 'g.txt', contents: 'g' }] },
    })
    assert.equal(sent.statusCode, 202, sent.body)
    const mine = await runCli(['status'], agent)
    const rows = mine.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s{2,}/))
    assert.deepEqual(rows.map((r) => [r[0], r[4], r[5]]), [[sent.json().id, 'docs-agent', 'mine']])
  })
})
