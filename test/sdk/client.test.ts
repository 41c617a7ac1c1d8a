import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { buildApp } from '../../src/app.js'
import { testConfig, TOKEN } from '../helper.js'
import { CLIENT_FLOW } from './client-flow-source.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** What the generated module exports; the test only sees it at run time. */
interface ClientFlow {
  connect(baseUrl: string, token: string): unknown
  dispatch(client: unknown, contents: string): Promise<{ id: string; status: string; httpStatus: number }>
  waitForFinal(client: unknown, id: string, timeoutMs: number): Promise<{ status: string; commit: string | null; events: string[] }>
  list(client: unknown): Promise<{ ids: string[]; statuses: string[] }>
}

// Inside the repository (under the gitignored .tmp/) so the generated module resolves
// openapi-fetch from node_modules, as a client project depending on it would.
const dir = (() => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true })
  return mkdtempSync(join(ROOT, '.tmp', 'sdk-'))
})()
after(() => rmSync(dir, { recursive: true, force: true }))

describe('a client generated from the committed openapi.yaml', () => {
  let flow: ClientFlow
  let client: unknown
  let id: string
  const config = testConfig()
  let app: Awaited<ReturnType<typeof buildApp>>

  before(async () => {
    const ast = await openapiTS(pathToFileURL(join(ROOT, 'openapi.yaml')))
    writeFileSync(join(dir, 'schema.d.ts'), astToString(ast))
    writeFileSync(join(dir, 'flow.ts'), CLIENT_FLOW)
    flow = (await import(pathToFileURL(join(dir, 'flow.ts')).href)) as ClientFlow

    app = await buildApp(config, { runner: true })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    client = flow.connect(`http://127.0.0.1:${port}`, TOKEN)
  })
  after(() => app?.close())

  it('typechecks: the generated types fit the calls a client makes', async () => {
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
    assert.match(readFileSync(join(dir, 'schema.d.ts'), 'utf8'), /"\/patches\/\{id\}\/events"/)
  })

  it('dispatches a patch (POST /webhook)', async () => {
    const accepted = await flow.dispatch(client, 'from the SDK\n')
    assert.equal(accepted.httpStatus, 202)
    assert.equal(accepted.status, 'queued')
    id = accepted.id
  })

  it('waits for it to land (GET /patches/{id} until a final status)', async () => {
    const final = await flow.waitForFinal(client, id, 60_000)
    assert.equal(final.status, 'applied', JSON.stringify(final))
    assert.match(final.commit ?? '', /^[0-9a-f]{40}$/)
    assert.deepEqual(final.events, ['queued', 'running', 'applied'])
    assert.equal(readFileSync(join(config.workspaces.default!.path, 'sdk.txt'), 'utf8'), 'from the SDK\n')
  })

  it('lists it (GET /patches)', async () => {
    const page = await flow.list(client)
    assert.deepEqual(page.ids, [id])
    assert.deepEqual(page.statuses, ['applied'])
  })
})
