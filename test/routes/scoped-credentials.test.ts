import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PatchRecord, PatchSummary } from '../../src/schemas/record.js'
import { auth, signedHeaders, testApp } from '../helpers/app.js'
import { SseReader } from '../helpers/sse.js'
import { bearer, DOCS_SECRET, patchFor, scopedOverrides, sha256Hex, TOKENS } from '../helpers/credentials.js'

const app = await testApp(scopedOverrides())

const operator = bearer(TOKENS.operator)
const agent = bearer(TOKENS.docsAgent)
const agentNext = bearer(TOKENS.docsAgentNext)
const lead = bearer(TOKENS.docsLead)
const monitor = bearer(TOKENS.monitor)
const scraper = bearer(TOKENS.scraper)
const dispatcher = bearer(TOKENS.docsDispatcher)

async function send(headers: Record<string, string>, payload: object = patchFor('docs'), extra: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/webhook', headers: { ...headers, ...extra }, payload })
}
async function submit(headers: Record<string, string>, target = 'docs', extra: Record<string, unknown> = {}): Promise<string> {
  const res = await send(headers, patchFor(target, extra))
  assert.equal(res.statusCode, 202, res.body)
  return res.json().id
}
const get = (id: string, headers: Record<string, string>) => app.inject({ method: 'GET', url: `/patches/${id}`, headers })
const cancel = (id: string, headers: Record<string, string>) => app.inject({ method: 'POST', url: `/patches/${id}/cancel`, headers })
const record = async (id: string) => (await get(id, operator)).json() as PatchRecord
const problem = (res: { statusCode: number; json(): unknown }) => [res.statusCode, (res.json() as { code: string }).code]
/** Every patch any credential may see, newest first. */
const everything = async () => ((await app.inject({ method: 'GET', url: '/patches?limit=100', headers: operator })).json().items as PatchSummary[]).map((p) => p.id)

describe('dispatch', () => {
  it('records the submitting credential\'s name on the patch and its enqueued event', async () => {
    const id = await submit(agent)
    const r = await record(id)
    assert.equal(r.submitted_by, 'docs-agent')
    assert.equal(r.cancelled_by, null)
    assert.deepEqual(r.events.map((e) => [e.status, e.reason, e.detail]), [['queued', 'enqueued', 'docs-agent']])
    assert.equal((await record(await submit(auth, 'default'))).submitted_by, 'token-1', 'GHOST_API_TOKENS are named token-<n>')
  })

  it('on a server without credentials (loopback only) a patch is recorded as submitted by anonymous', async () => {
    const open = await testApp({ apiTokens: [], webhookSecrets: [] })
    const res = await open.inject({ method: 'POST', url: '/webhook', payload: patchFor('default') })
    assert.equal(res.statusCode, 202, res.body)
    const r = (await open.inject({ method: 'GET', url: `/patches/${res.json().id}` })).json() as PatchRecord
    assert.equal(r.submitted_by, 'anonymous')
    const cancelled = await open.inject({ method: 'POST', url: `/patches/${r.id}/cancel` })
    assert.equal(cancelled.json().cancelled_by, 'anonymous')
  })

  it('refuses a workspace outside the scope with 403 TARGET_FORBIDDEN, whether it exists or not, and stores nothing', async () => {
    const before = await everything()
    for (const target of ['default', 'payments']) {
      for (const headers of [agent, dispatcher, lead]) {
        const res = await send(headers, patchFor(target))
        assert.deepEqual(problem(res), [403, 'TARGET_FORBIDDEN'], `${target}: ${res.body}`)
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      }
    }
    // Legacy v1 payloads always target `default`.
    const v1 = await send(agent, { id: 'v1-1', role: 'agent', target_file: 'a.txt', patch: { pattern: 'a', replacement: 'b' } })
    assert.deepEqual(problem(v1), [403, 'TARGET_FORBIDDEN'])
    assert.deepEqual(await everything(), before)
    // A credential for every workspace still learns that one does not exist.
    assert.deepEqual(problem(await send(operator, patchFor('payments'))), [422, 'UNKNOWN_TARGET'])
  })

  it('refuses a credential without the dispatch right with 403 FORBIDDEN, and stores nothing', async () => {
    const before = await everything()
    for (const headers of [monitor, scraper]) assert.deepEqual(problem(await send(headers)), [403, 'FORBIDDEN'])
    assert.deepEqual(await everything(), before)
  })

  it('a secret limited to a workspace signs patches for it alone, recorded under its name', async () => {
    const body = JSON.stringify(patchFor('docs'))
    const ok = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(body, { secret: DOCS_SECRET }), payload: body })
    assert.equal(ok.statusCode, 202, ok.body)
    assert.equal((await record(ok.json().id)).submitted_by, 'docs-signer')
    const other = JSON.stringify(patchFor('default'))
    const refused = await app.inject({ method: 'POST', url: '/webhook', headers: signedHeaders(other, { secret: DOCS_SECRET }), payload: other })
    assert.deepEqual(problem(refused), [403, 'TARGET_FORBIDDEN'])
  })

  it('a token configured as its sha256 digest authenticates; the digest itself is not a token', async () => {
    const id = await submit(agentNext)
    assert.equal((await record(id)).submitted_by, 'docs-agent', 'the rotated token carries the name it shares')
    const digest = `sha256:${sha256Hex(TOKENS.docsAgentNext)}`
    assert.deepEqual(problem(await send(bearer(digest))), [401, 'UNAUTHORIZED'])
  })
})

describe('idempotency keys are scoped by credential name', () => {
  it('a key reused by another credential never returns the first caller\'s record, nor a conflict that says the key exists', async () => {
    const key = { 'idempotency-key': 'shared-key-1' }
    const first = await send(agent, patchFor('docs'), key)
    assert.equal(first.statusCode, 202, first.body)
    const mine = first.json().id as string

    for (const headers of [operator, lead, auth]) {
      const same = await send(headers, patchFor('docs'), key)
      assert.equal(same.statusCode, 202, `same key and body by another credential: ${same.body}`)
      assert.notEqual(same.json().id, mine)
      assert.equal((await record(same.json().id)).submitted_by === 'docs-agent', false)
    }
    const otherBody = await send(bearer(TOKENS.docsDispatcher), patchFor('docs', { description: 'something else' }), key)
    assert.equal(otherBody.statusCode, 202, `another body under the same key by another credential: ${otherBody.body}`)
    assert.notEqual(otherBody.json().id, mine)

    // The credential that used it first, under either of its tokens (a rotation), still gets its own.
    for (const headers of [agent, agentNext]) {
      const again = await send(headers, patchFor('docs'), key)
      assert.equal(again.statusCode, 200, again.body)
      assert.equal(again.json().id, mine)
    }
    assert.deepEqual(problem(await send(agent, patchFor('docs', { description: 'changed' }), key)), [409, 'IDEMPOTENCY_CONFLICT'])
  })

  it('the same holds for a webhook-id and for the client\'s own id', async () => {
    const body = JSON.stringify(patchFor('docs', { id: 'client-7' }))
    const signed = (secret?: string) => signedHeaders(body, { id: 'msg_shared', ...(secret ? { secret } : {}) })
    const a = await app.inject({ method: 'POST', url: '/webhook', headers: signed(), payload: body })
    const b = await app.inject({ method: 'POST', url: '/webhook', headers: signed(DOCS_SECRET), payload: body })
    assert.equal(a.statusCode, 202, a.body)
    assert.equal(b.statusCode, 202, b.body)
    assert.notEqual(a.json().id, b.json().id)
    assert.equal((await app.inject({ method: 'POST', url: '/webhook', headers: signed(DOCS_SECRET), payload: body })).json().id, b.json().id)

    const c = await send(agent, patchFor('docs', { id: 'client-8' }))
    const d = await send(lead, patchFor('docs', { id: 'client-8' }))
    assert.deepEqual([c.statusCode, d.statusCode], [202, 202])
    assert.notEqual(c.json().id, d.json().id)
  })
})

describe('read', () => {
  it('`own` reads the patches submitted under its name (by any of its tokens); any other is 404 like an unknown id', async () => {
    const own = await submit(agent)
    const viaNext = await submit(agentNext)
    const others = [await submit(operator, 'docs'), await submit(lead, 'docs'), await submit(operator, 'default')]
    for (const id of [own, viaNext]) {
      for (const headers of [agent, agentNext]) assert.equal((await get(id, headers)).statusCode, 200)
    }
    for (const id of [...others, 'pt_no_such_patch']) {
      const res = await get(id, agent)
      assert.deepEqual(problem(res), [404, 'NOT_FOUND'])
      assert.equal(res.json().title, `No patch ${id}`, 'the same answer as for an id that does not exist')
    }
  })

  it('`all` reads every patch of its workspaces only; without the read right it is 403 FORBIDDEN, whatever the id', async () => {
    const docs = await submit(operator, 'docs')
    const other = await submit(operator, 'default')
    assert.equal((await get(docs, lead)).statusCode, 200)
    assert.deepEqual(problem(await get(other, lead)), [404, 'NOT_FOUND'])
    for (const id of [docs, other]) assert.equal((await get(id, monitor)).statusCode, 200)
    for (const headers of [scraper, dispatcher]) {
      for (const id of [docs, 'pt_no_such_patch']) assert.deepEqual(problem(await get(id, headers)), [403, 'FORBIDDEN'])
    }
  })

  it('lists only what the caller may read, narrowed in the store: every page full, cursors exact', async () => {
    // Interleaved so that a page filtered after the fact would come back short.
    for (let i = 0; i < 6; i++) {
      await submit(agent)
      await submit(operator, 'docs')
      await submit(operator, 'default')
    }
    const all = await everything()
    const byId = new Map<string, PatchSummary>()
    for (const p of (await app.inject({ method: 'GET', url: '/patches?limit=100', headers: operator })).json().items as PatchSummary[]) byId.set(p.id, p)

    const pages = async (headers: Record<string, string>, query = '') => {
      const out: string[][] = []
      let cursor: string | null = null
      do {
        const res: { statusCode: number; body: string; json(): { items: PatchSummary[]; next_cursor: string | null } } = await app.inject({ method: 'GET', url: `/patches?limit=4${query}${cursor ? `&cursor=${cursor}` : ''}`, headers })
        assert.equal(res.statusCode, 200, res.body)
        out.push(res.json().items.map((p) => p.id))
        cursor = res.json().next_cursor
      } while (cursor)
      return out
    }
    const chunks = (ids: string[]) => {
      const out: string[][] = []
      for (let i = 0; i < ids.length; i += 4) out.push(ids.slice(i, i + 4))
      return out.length > 0 ? out : [[]]
    }
    const own = all.filter((id) => byId.get(id)!.submitted_by === 'docs-agent')
    assert.ok(own.length >= 6)
    assert.deepEqual(await pages(agent), chunks(own))
    assert.deepEqual(await pages(agentNext), chunks(own), 'credentials sharing a name share their patches')
    assert.deepEqual(await pages(lead), chunks(all.filter((id) => byId.get(id)!.target === 'docs')))
    assert.deepEqual(await pages(monitor), chunks(all))
    assert.deepEqual(await pages(agent, '&status=queued&target=docs'), chunks(own.filter((id) => byId.get(id)!.status === 'queued')))

    assert.deepEqual(problem(await app.inject({ method: 'GET', url: '/patches?target=default', headers: agent })), [403, 'TARGET_FORBIDDEN'])
    assert.deepEqual(problem(await app.inject({ method: 'GET', url: '/patches?target=payments', headers: lead })), [403, 'TARGET_FORBIDDEN'])
    assert.deepEqual(problem(await app.inject({ method: 'GET', url: '/patches', headers: scraper })), [403, 'FORBIDDEN'])
  })
})

describe('cancel', () => {
  it('`own` cancels its own patch and records its name; another\'s is 404 if it cannot read it, 403 FORBIDDEN if it can', async () => {
    const own = await submit(agent)
    const res = await cancel(own, agent)
    assert.equal(res.statusCode, 200, res.body)
    const cancelled = res.json() as PatchRecord
    assert.equal(cancelled.status, 'cancelled')
    assert.equal(cancelled.submitted_by, 'docs-agent')
    assert.equal(cancelled.cancelled_by, 'docs-agent')
    assert.deepEqual(cancelled.events.at(-1) && [cancelled.events.at(-1)!.reason, cancelled.events.at(-1)!.detail], ['cancelled_by_client', 'docs-agent'])
    assert.deepEqual(await record(own), { ...cancelled, notifications: [] })

    const operatorsDocs = await submit(operator, 'docs')
    assert.deepEqual(problem(await cancel(operatorsDocs, agent)), [404, 'NOT_FOUND'], 'read own: another credential\'s patch does not exist for it')
    assert.deepEqual(problem(await cancel(operatorsDocs, lead)), [403, 'FORBIDDEN'], 'read all, cancel own: visible, not cancellable')
    const operatorsDefault = await submit(operator, 'default')
    assert.deepEqual(problem(await cancel(operatorsDefault, lead)), [404, 'NOT_FOUND'], 'outside its workspaces')
    for (const headers of [monitor, scraper, dispatcher]) {
      assert.deepEqual(problem(await cancel(operatorsDocs, headers)), [403, 'FORBIDDEN'], 'no cancel right')
    }
    for (const id of [operatorsDocs, operatorsDefault]) {
      const r = await record(id)
      assert.equal(r.status, 'queued', 'nothing refused was cancelled')
      assert.equal(r.cancelled_by, null)
    }
  })

  it('`all` (admin) cancels anyone\'s patch: the record names both credentials', async () => {
    const agents = await submit(agent)
    const res = await cancel(agents, operator)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual([res.json().submitted_by, res.json().cancelled_by], ['docs-agent', 'operator'])
    // The submitter still reads its patch, and sees who cancelled it.
    assert.equal((await get(agents, agent)).json().cancelled_by, 'operator')
  })
})

describe("the operator page's routes follow the same rights", () => {
  it('GET /events streams only the changes of patches the credential may read', async () => {
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const res = await fetch(`${url}/events`, { headers: { ...agent, accept: 'text/event-stream' } })
    assert.equal(res.status, 200)
    const stream = new SseReader(res)
    // The feed reads its baseline when the first stream opens: what comes after is news.
    await sleep(300)
    const others = [await submit(lead), await submit(operator, 'default')]
    const own = await submit(agent)
    await cancel(others[0]!, lead)
    const sentinel = await submit(agent)
    const messages = await stream.until('the sentinel patch', (m) => m.some((x) => x.data.includes(sentinel)))
    const shown = new Set(messages.filter((m) => m.event === 'patch').map((m) => (JSON.parse(m.data) as PatchSummary).id))
    assert.ok(shown.has(own), 'its own patch is shown')
    for (const id of others) assert.ok(!shown.has(id), `${id}, another credential's patch, is not shown`)
    stream.cancel()
  })

  it('GET /queues lists only the workspaces in scope; a credential without read is refused', async () => {
    const targets = async (headers: Record<string, string>) => ((await app.inject({ method: 'GET', url: '/queues', headers })).json().items as { target: string }[]).map((q) => q.target)
    assert.deepEqual(await targets(agent), ['docs'])
    assert.deepEqual(await targets(bearer(TOKENS.defaultOperator)), ['default'])
    assert.deepEqual(await targets(operator), ['default', 'docs'])
    assert.deepEqual(problem(await app.inject({ method: 'GET', url: '/queues', headers: scraper })), [403, 'FORBIDDEN'])
  })

  it("GET /patches/{id}/diff answers another credential's patch like an unknown id", async () => {
    const theirs = await submit(lead)
    const mine = await submit(agent)
    const diff = (id: string) => app.inject({ method: 'GET', url: `/patches/${id}/diff`, headers: agent })
    assert.deepEqual(problem(await diff(theirs)), [404, 'NOT_FOUND'])
    assert.deepEqual(problem(await diff(mine)), [409, 'NOT_APPLIED'], 'its own queued patch has no commit yet')
    assert.deepEqual(problem(await app.inject({ method: 'GET', url: `/patches/${mine}/diff`, headers: dispatcher })), [403, 'FORBIDDEN'])
  })
})
