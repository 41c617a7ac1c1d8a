import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { testApp, TOKEN } from '../helpers/app.js'
import { CLIENT_FLOW } from './client-flow-source.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

type Health = { httpStatus: number; contentType: string | null; status: string; retryAfter: string | null }
/** What the generated module exports; the test only sees it at run time. */
interface ClientFlow {
  connect(baseUrl: string, token: string): unknown
  dispatch(client: unknown, contents: string): Promise<{ id: string; status: string; httpStatus: number; location: string | null }>
  waitForFinal(client: unknown, id: string, timeoutMs: number): Promise<{ status: string; commit: string | null; events: string[] }>
  list(client: unknown): Promise<{ ids: string[]; statuses: string[] }>
  events(client: unknown, id: string, after?: number): Promise<{ contentType: string | null; events: { id: string; seq: number; status: string }[] }>
  cancel(client: unknown, id: string): Promise<{ httpStatus: number; code: string | null; status: string | null; cancelledBy?: string | null }>
  health(client: unknown, accept: string): Promise<Health>
}

// Inside the repository (under the gitignored .tmp/) so the generated module resolves
// openapi-fetch from node_modules, as a client project depending on it would.
const dir = (() => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  return mkdtempSync(join(ROOT, '.tmp', 'sdk-'))
})()
after(() => rmSync(dir, { recursive: true, force: true }))

/** Listens on a loopback port and returns its base URL. */
async function serve(app: Awaited<ReturnType<typeof testApp>>) {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

// One instance that runs patches and is healthy, one without a runner whose disk probe fails;
// built at the top level so they live (and are checked against the contract) until the file ends.
// The suite runs two files at once on two cores: a neighbour's burst can starve this process
// past the event-loop limits, which is not what this file reads, so those limits are wide here.
const app = await testApp({ health: { eventLoopWarnMs: 30_000, eventLoopFailMs: 60_000 } }, { runner: true })
const sick = await testApp({ health: { diskWarnMb: 1e12, diskFailMb: 1e12 } })

describe('a client generated from the committed openapi.yaml', () => {
  let flow: ClientFlow
  let client: unknown
  let unhealthy: unknown
  const config = app.config
  let id: string

  before(async () => {
    const ast = await openapiTS(pathToFileURL(join(ROOT, 'openapi.yaml')))
    writeFileSync(join(dir, 'schema.d.ts'), astToString(ast))
    writeFileSync(join(dir, 'flow.ts'), CLIENT_FLOW)
    flow = (await import(pathToFileURL(join(dir, 'flow.ts')).href)) as ClientFlow
    client = flow.connect(await serve(app), TOKEN)
    unhealthy = flow.connect(await serve(sick), TOKEN)
  })

  it('typechecks under tsc --strict with no cast: the generated types fit every call a client makes', async () => {
    assert.doesNotMatch(CLIENT_FLOW, /\bas (unknown|any)\b|<any>/, 'the flow uses no cast')
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
        files: ['flow.ts', 'schema.d.ts'],
      }),
    )
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir }).catch((err: { stdout?: string; message: string }) => {
      assert.fail(`tsc on the generated client failed:\n${err.stdout ?? err.message}`)
    })
    const schema = readFileSync(join(dir, 'schema.d.ts'), 'utf8')
    for (const name of ['Problem', 'PatchRecord', 'Operation', 'PatchStreamEvent', 'HealthUnavailable']) assert.match(schema, new RegExp(`\\b${name}: \\{|\\b${name}:`), `exports ${name}`)
  })

  it('dispatches a patch (POST /webhook) and is told where it lives', async () => {
    const accepted = await flow.dispatch(client, 'from the SDK\n')
    assert.equal(accepted.httpStatus, 202)
    assert.equal(accepted.status, 'queued')
    assert.equal(accepted.location, `/patches/${accepted.id}`)
    id = accepted.id
  })

  it('waits for it to land (GET /patches/{id} until a final status)', async () => {
    const final = await flow.waitForFinal(client, id, 60_000)
    assert.equal(final.status, 'applied', JSON.stringify(final))
    assert.match(final.commit ?? '', /^[0-9a-f]{40}$/)
    assert.deepEqual(final.events, ['queued', 'running', 'applied'])
    assert.equal(readFileSync(join(config.workspaces.default!.path, 'sdk.txt'), 'utf8'), 'from the SDK\n')
  })

  it('lists it (GET /patches without arguments)', async () => {
    const page = await flow.list(client)
    assert.deepEqual(page.ids, [id])
    assert.deepEqual(page.statuses, ['applied'])
  })

  it('reads its event stream (GET /patches/{id}/events), resuming after Last-Event-ID', async () => {
    const all = await flow.events(client, id)
    assert.match(all.contentType ?? '', /^text\/event-stream/)
    assert.deepEqual(all.events.map((e) => [e.seq, e.status, e.id]), [[1, 'queued', id], [2, 'running', id], [3, 'applied', id]])
    const rest = await flow.events(client, id, 2)
    assert.deepEqual(rest.events.map((e) => e.status), ['applied'])
  })

  it('cancels a queued patch, and is told 409 for one that has landed (POST /patches/{id}/cancel)', async () => {
    const queued = await flow.dispatch(unhealthy, 'never runs\n')
    const cancelled = await flow.cancel(unhealthy, queued.id)
    assert.deepEqual([cancelled.httpStatus, cancelled.status], [200, 'cancelled'])
    const landed = await flow.cancel(client, id)
    assert.deepEqual([landed.httpStatus, landed.code], [409, 'NOT_CANCELLABLE'])
  })

  it('reads health as 200 and 503 in both media types (GET /health)', async () => {
    const healthy = await flow.health(client, 'application/json')
    assert.deepEqual([healthy.httpStatus, healthy.contentType], [200, 'application/json; charset=utf-8'])
    assert.ok(['healthy', 'degraded'].includes(healthy.status), healthy.status)
    const draft = await flow.health(client, 'application/health+json')
    assert.deepEqual([draft.httpStatus, draft.contentType], [200, 'application/health+json; charset=utf-8'])
    assert.ok(['pass', 'warn'].includes(draft.status), draft.status)

    const sick = await flow.health(unhealthy, 'application/json')
    assert.equal(sick.httpStatus, 503)
    assert.ok(['unhealthy', 'unknown'].includes(sick.status), sick.status)
    assert.ok(Number(sick.retryAfter) >= 1)
    const sickDraft = await flow.health(unhealthy, 'application/health+json')
    assert.deepEqual([sickDraft.httpStatus, sickDraft.status, sickDraft.contentType], [503, 'fail', 'application/health+json; charset=utf-8'])
  })
})
