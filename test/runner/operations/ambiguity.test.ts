import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { afterText, expectReject, makeRepo, plan } from '../../helpers/operations.js'

const patch = (...body: string[]) => ({ op: 'apply_patch' as const, patch: ['*** Begin Patch', ...body, '*** End Patch'].join('\n') })

/** A test file made of blocks that close with the same three lines, the way test suites do. */
const testBlock = (name: string, n: number) => [`describe('${name}', () => {`, `  it('runs ${name}', (testDone) => {`, `    run(${n})`, '    testDone()', '  })', '})', ''].join('\n')
const SUITE = testBlock('alpha', 1) + testBlock('beta', 2) + testBlock('gamma', 3)

/** A CI workflow whose jobs repeat the same `with:` / `node-version:` block. */
const job = (name: string) => [`  ${name}:`, '    runs-on: ubuntu-latest', '    steps:', '      - uses: actions/setup-node@v4', '        with:', '          node-version: 20', ''].join('\n')
const WORKFLOW = `name: ci\njobs:\n${job('test')}${job('lint')}${job('build')}`

describe('V4A: a chunk must match exactly one place', () => {
  it('rejects bare context that closes several blocks instead of taking the first', async () => {
    const root = makeRepo({ 'suite.test.js': SUITE })
    const err = await expectReject(
      root,
      [patch('*** Update File: suite.test.js', '@@', '     testDone()', '   })', ' })', '+', "+describe('delta', () => {})")],
      'AMBIGUOUS_MATCH',
    )
    assert.equal(err.path, 'suite.test.js')
    assert.deepEqual(err.candidates, [4, 10, 16])
    assert.match(err.message, /3 places/)
  })

  it('applies the same edit once its context is unique', async () => {
    const root = makeRepo({ 'suite.test.js': SUITE })
    const changes = await plan(root, [patch('*** Update File: suite.test.js', '@@', '     run(3)', '     testDone()', '   })', ' })', '+', "+describe('delta', () => {})")])
    assert.deepEqual(afterText(changes), { 'suite.test.js': `${SUITE}\ndescribe('delta', () => {})\n` })
  })

  it('rejects context an anchor leaves ambiguous, and applies it once anchors and context make it unique', async () => {
    const root = makeRepo({ '.ci/workflow.yml': WORKFLOW })
    const edit = ['         with:', '-          node-version: 20', '+          node-version: 22']
    const update = (...body: string[]) => patch('*** Update File: .ci/workflow.yml', ...body)
    const err = await expectReject(root, [update('@@ jobs:', ...edit)], 'AMBIGUOUS_MATCH')
    assert.deepEqual(err.candidates, [7, 13, 19])
    // An anchor only says where to start looking: lint's block and build's both follow it.
    const lint = await expectReject(root, [update('@@   lint:', ...edit)], 'AMBIGUOUS_MATCH')
    assert.deepEqual(lint.candidates, [13, 19])
    const bumped = (name: string) => WORKFLOW.replace(job(name), job(name).replace('node-version: 20', 'node-version: 22'))
    // Anchors narrow in turn and loosen like context: `build:` matches the indented line.
    for (const anchors of [['@@   build:'], ['@@ jobs:', '@@ build:']]) {
      assert.deepEqual(afterText(await plan(root, [update(...anchors, ...edit)])), { '.ci/workflow.yml': bumped('build') }, anchors.join(' '))
    }
    assert.deepEqual(afterText(await plan(root, [update('@@ lint:', ...edit, '   build:')])), { '.ci/workflow.yml': bumped('lint') })
  })

  it('rejects a pure addition whose anchor occurs more than once', async () => {
    const root = makeRepo({ '.ci/workflow.yml': WORKFLOW })
    const err = await expectReject(root, [patch('*** Update File: .ci/workflow.yml', '@@         with:', '+          cache: npm')], 'AMBIGUOUS_MATCH')
    assert.deepEqual(err.candidates, [7, 13, 19])
  })

  it('judges ambiguity at the strictest level that finds the context at all', async () => {
    const root = makeRepo({ 'exact.py': 'x = 1  \nx = 1\nx = 1 \n', 'loose.py': '  x = 1\n    x = 1\ny = 2\n' })
    // Exactly once as written (twice more with trailing blanks): unique.
    assert.deepEqual(afterText(await plan(root, [patch('*** Update File: exact.py', '@@', '-x = 1', '+x = 2')])), { 'exact.py': 'x = 1  \nx = 2\nx = 1 \n' })
    // Only found once indentation is ignored, and then twice: ambiguous.
    const err = await expectReject(root, [patch('*** Update File: loose.py', '@@', '-x = 1', '+x = 2')], 'AMBIGUOUS_MATCH')
    assert.deepEqual(err.candidates, [1, 2])
  })

  it('counts only places at or after the previous chunk', async () => {
    const LINES = ['alpha', 'beta', 'alpha', 'beta', ''].join('\n')
    const root = makeRepo({ 'r.txt': LINES })
    await expectReject(root, [patch('*** Update File: r.txt', '@@', ' alpha', '-beta', '+B1')], 'AMBIGUOUS_MATCH')
    const changes = await plan(root, [patch('*** Update File: r.txt', '@@', '-beta', '+B1', ' alpha', '@@', '-beta', '+B2')])
    assert.deepEqual(afterText(changes), { 'r.txt': 'alpha\nB1\nalpha\nB2\n' })
  })

  it('matches an End of File chunk at the end only', async () => {
    const root = makeRepo({ 'e.txt': 'end\nmiddle\nend\nlast\n', 'f.txt': 'end\nmiddle\nend\n' })
    const err = await expectReject(root, [patch('*** Update File: e.txt', '@@', '-end', '+END', '*** End of File')], 'CONTEXT_NOT_FOUND')
    assert.equal(err.path, 'e.txt')
    // Lines that also occur earlier are not ambiguous at the end of the file.
    const changes = await plan(root, [patch('*** Update File: f.txt', '@@', '-end', '+END', '*** End of File')])
    assert.deepEqual(afterText(changes), { 'f.txt': 'end\nmiddle\nEND\n' })
  })
})

describe('text-finding operations: unique or explicit', () => {
  it('rejects an insert anchor found twice, naming both lines', async () => {
    const root = makeRepo({ 'suite.test.js': SUITE })
    const err = await expectReject(root, [{ op: 'insert', path: 'suite.test.js', contents: '    done = true\n', before: '    testDone()\n' }], 'AMBIGUOUS_MATCH')
    assert.deepEqual(err.candidates, [4, 10, 16])
  })

  it('replaces every occurrence of a literal, so repetition is not ambiguous; count pins it', async () => {
    const root = makeRepo({ 'suite.test.js': SUITE })
    const changes = await plan(root, [{ op: 'replace', path: 'suite.test.js', find: 'testDone', replace: 'done' }])
    assert.deepEqual(afterText(changes), { 'suite.test.js': SUITE.replaceAll('testDone', 'done') })
    await expectReject(root, [{ op: 'replace', path: 'suite.test.js', find: 'testDone()', replace: 'done()', count: 1 }], 'COUNT_MISMATCH')
  })
})
