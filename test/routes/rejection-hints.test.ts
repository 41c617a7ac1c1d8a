import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { PatchRecord } from '../../src/schemas/record.js'
import { auth, gitRepo, testApp, testConfig, until } from '../helpers/app.js'

// Blocks that close with the same lines, as test suites and CI workflows do.
const block = (n: number) => [`describe('case ${n}', () => {`, `  it('works', (testDone) => {`, `    run(${n})`, '    testDone()', '  })', '})', ''].join('\n')
const SUITE = block(1) + block(2)

const config = testConfig()
config.workspaces.default!.path = gitRepo({ 'suite.test.js': SUITE, 'README.md': '# demo\n' })
const app = await testApp(config, { runner: true })

async function settle(payload: object): Promise<PatchRecord> {
  const res = await app.inject({ method: 'POST', url: '/webhook', headers: auth, payload })
  assert.equal(res.statusCode, 202, res.body)
  const { id } = res.json() as { id: string }
  return until(
    `patch ${id} to settle`,
    async () => {
      const record = (await app.inject({ method: 'GET', url: `/patches/${id}`, headers: auth })).json() as PatchRecord
      return ['queued', 'running'].includes(record.status) ? null : record
    },
    20_000,
    () => '',
  )
}

const v4a = (...body: string[]) => ['*** Begin Patch', '*** Update File: suite.test.js', ...body, '*** End Patch'].join('\n')

describe('a rejected patch record teaches how to fix it', () => {
  it('AMBIGUOUS_MATCH: candidate lines and each place with lines around it', async () => {
    const record = await settle({ target: 'default', operations: [{ op: 'apply_patch', patch: v4a('@@', '     testDone()', '   })', ' })', '+// end') }] })
    assert.equal(record.status, 'rejected')
    assert.equal(record.error?.code, 'AMBIGUOUS_MATCH')
    assert.deepEqual(record.error?.candidates, [4, 10])
    assert.deepEqual(
      record.error?.regions?.map((r) => [r.start_line, r.end_line, r.similarity, r.lines.length]),
      [
        [1, 9, 1, 9],
        [7, 12, 1, 6],
      ],
    )
  })

  it('CONTEXT_NOT_FOUND: the closest region, its similarity and the actual lines', async () => {
    const record = await settle({ target: 'default', operations: [{ op: 'apply_patch', patch: v4a('@@', '-    run(2);', '+    run(3)') }] })
    assert.equal(record.error?.code, 'CONTEXT_NOT_FOUND')
    const [best] = record.error?.regions ?? []
    assert.deepEqual([best?.start_line, best?.end_line, best?.lines], [9, 9, ['    run(2)']])
    assert.ok(best && best.similarity > 0.5 && best.similarity < 1)
  })

  it('a legacy v2 insert whose anchor repeats is rejected the same way', async () => {
    const record = await settle({
      blockId: 'blk-1',
      description: 'legacy insert',
      target: 'default',
      version: '2',
      mutations: [{ path: 'suite.test.js', contents: '    cleanup()\n', insertBefore: '    testDone()\n' }],
      postMutationBuild: { shell: [] },
      validate: { shell: [] },
    })
    assert.equal(record.format, 'legacy_v2')
    assert.equal(record.error?.code, 'AMBIGUOUS_MATCH')
    assert.deepEqual(record.error?.candidates, [4, 10])
  })

  it('a legacy v1 replace means every match, so repetition applies everywhere', async () => {
    const record = await settle({ id: 'v1-all', role: 'ghost', target_file: 'suite.test.js', patch: { pattern: 'testDone\\(\\)', replacement: 'done()' }, description: 'legacy' })
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.deepEqual(record.result?.files.map((f) => [f.path, f.added, f.removed]), [['suite.test.js', 2, 2]])
  })
})
