import { createHash } from 'node:crypto'
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { TOKEN, testApp } from '../helpers/app.js'

// A second token, as during a rotation: the same length as TOKEN, so a length is no evidence.
const NEXT = 'next-token-9876543210zyxwvu'

it('accepts each configured token exactly and refuses every near miss: same length, prefix, extension, other case, both joined', async () => {
  assert.equal(NEXT.length, TOKEN.length)
  const app = await testApp({ apiTokens: [TOKEN, NEXT] })
  const answer = async (token: string) => {
    const res = await app.inject({ method: 'GET', url: '/patches', headers: { authorization: `Bearer ${token}` } })
    if (res.statusCode === 401) {
      assert.equal(res.json().code, 'UNAUTHORIZED')
      assert.equal(res.headers['www-authenticate'], 'Bearer')
    }
    return res.statusCode
  }

  for (const token of [TOKEN, NEXT]) assert.equal(await answer(token), 200, token)

  const nearMisses = {
    'last character changed': TOKEN.slice(0, -1) + 'e',
    'first character changed': 'x' + TOKEN.slice(1),
    'one character changed in the middle': TOKEN.slice(0, 13) + '_' + TOKEN.slice(14),
    'upper case': TOKEN.toUpperCase(),
    'all but the last character': TOKEN.slice(0, -1),
    'the first 16 characters': TOKEN.slice(0, 16),
    'all but the first character': TOKEN.slice(1),
    'one character more': TOKEN + 'f',
    'the token twice': TOKEN + TOKEN,
    'both tokens joined': TOKEN + NEXT,
    'first half of one, second half of the other': TOKEN.slice(0, 13) + NEXT.slice(13),
    'the same length, nothing in common': 'z'.repeat(TOKEN.length),
    'its SHA-256 in hex': createHash('sha256').update(TOKEN).digest('hex'),
  }
  const accepted: string[] = []
  for (const [what, token] of Object.entries(nearMisses)) {
    assert.notEqual(token, TOKEN)
    const status = await answer(token)
    if (status !== 401) accepted.push(`${what} (${token}): ${status}`)
  }
  assert.deepEqual(accepted, [])
})
