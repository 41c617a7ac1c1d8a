import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { catalogStatuses, Errors } from '../src/errors.js'
import { auth, testApp } from './helpers/app.js'

/**
 * README's error table, the codes an HTTP answer carries, as `code → status`. Only the rows of
 * the table that follows "These are all the codes an HTTP answer carries": a patch record's
 * `error.code` (the runner's reject and failure codes) is not an HTTP error and not listed there.
 */
function documentedCodes(): Map<string, number> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const start = readme.indexOf('These are all the codes an HTTP answer carries')
  assert.ok(start >= 0, 'README introduces its error table')
  const lines = readme.slice(start).split('\n')
  const first = lines.findIndex((l) => l.startsWith('| Code | Status |'))
  const rows = []
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line)
  }
  const table = new Map<string, number>()
  for (const row of rows) {
    const m = /^\| `([A-Z_]+)` \| (\d{3}) \|/.exec(row)
    assert.ok(m, `a row of README's error table reads | \`CODE\` | status | … |: ${row}`)
    assert.ok(!table.has(m[1]!), `${m[1]} is documented once`)
    table.set(m[1]!, Number(m[2]))
  }
  return table
}

describe('the error catalog (src/errors.ts)', () => {
  it('is what README documents: every code with the same status, and nothing more', () => {
    const documented = documentedCodes()
    const catalog = new Map(catalogStatuses().map((e) => [e.code as string, e.status]))
    assert.ok(catalog.size > 20 && documented.size > 20)
    for (const [code, status] of catalog) assert.equal(documented.get(code), status, `README documents ${code} as ${status}`)
    for (const [code, status] of documented) assert.equal(catalog.get(code), status, `the catalog holds README's ${code} (${status})`)
  })

  it('gives each error the code it is filed under and an HTTP error status', () => {
    for (const [key, make] of Object.entries(Errors)) {
      const error = new make()
      assert.equal(error.code, key)
      assert.ok(error.statusCode! >= 400 && error.statusCode! <= 599, `${key} is ${error.statusCode}`)
    }
  })
})

describe('store errors become catalog problems in one place', () => {
  it('a cursor the server did not issue is 400 INVALID_CURSOR, quoting it back', async () => {
    const app = await testApp()
    const res = await app.inject({ method: 'GET', url: '/patches?cursor=not-a-cursor', headers: auth })
    assert.equal(res.statusCode, 400)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.deepEqual(res.json(), { type: 'about:blank', title: 'invalid cursor: "not-a-cursor"', status: 400, code: 'INVALID_CURSOR', instance: '/patches?cursor=not-a-cursor' })
  })
})
