import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { regexMeasure } from '../../../src/runner/operations/safe-regex.js'

const REGEXES = ['a', 'a(b)?', '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)', '(?<x>a)(?<y>b)?', 'x*', '(?:)', '(a+)(b*)', '\\bb', 'ab|(c)']

describe('regex replace is measured exactly before it is built', () => {
  it('the measured length equals the replaced text for any $-template, regex and text', (t) => {
    const seed = Number(process.env.GHOST_FC_SEED ?? Date.now() % 2 ** 31)
    t.diagnostic(`fast-check seed ${seed} (GHOST_FC_SEED=${seed} replays it)`)
    // Templates and texts made of the characters that matter: every $-pattern, digits, names.
    const template = fc.string({ unit: fc.constantFrom('$', '&', '`', "'", '<', '>', 'x', 'y', '0', '1', '2', '9', 'z') })
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'x', '\u00e9', '\n'), maxLength: 40 })
    fc.assert(
      fc.property(fc.constantFrom(...REGEXES), template, text, (pattern, replacement, input) => {
        const expected = input.replace(new RegExp(pattern, 'g'), replacement)
        const measured = regexMeasure(input, pattern, replacement, 1000, 'f')
        assert.equal(measured.length, expected.length, `${JSON.stringify(input)}.replace(/${pattern}/g, ${JSON.stringify(replacement)})`)
        assert.equal(measured.count, [...input.matchAll(new RegExp(pattern, 'g'))].length)
      }),
      { numRuns: 3000, seed },
    )
  })
})
