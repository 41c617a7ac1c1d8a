import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeCursor, encodeCursor, InvalidCursorError } from '../../src/store/ids.js'

describe('store cursors', () => {
  it('round-trip keys through an opaque url-safe string', () => {
    for (const key of [0, 1, 42, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const c = encodeCursor(key)
      assert.match(c, /^[A-Za-z0-9_-]+$/)
      assert.equal(decodeCursor(c), key)
    }
  })

  it('refuse anything they did not produce', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64url')
    for (const bad of ['', '!!', b64('c1:'), b64('c1:01'), b64('c1:-1'), b64('c2:5'), b64('c1:5 '), b64('c1:99999999999999999'), `${encodeCursor(5)}=`]) {
      assert.throws(() => decodeCursor(bad), (e: unknown) => e instanceof InvalidCursorError && e.code === 'INVALID_CURSOR' && bad.startsWith(e.cursor), bad)
    }
    assert.throws(() => encodeCursor(-1), RangeError)
    assert.throws(() => encodeCursor(1.5), RangeError)
  })
})
