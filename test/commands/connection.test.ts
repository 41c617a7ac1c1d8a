import assert from 'node:assert/strict'
import { it } from 'node:test'
import { connectionFrom } from '../../src/commands/http-client.js'
import { sha256Hex } from '../helpers/credentials.js'

it('reads with the first plain token of GHOST_API_TOKENS: a sha256: digest is what the server compares, not a token to send', () => {
  const digest = `sha256:${sha256Hex('server-side-token-0123456789')}`
  const { credentials } = connectionFrom({}, { GHOST_API_TOKENS: ` ${digest}, client-token-0123456789 ` })
  assert.deepEqual(credentials, { token: 'client-token-0123456789', dispatch: { token: 'client-token-0123456789' } })
  assert.equal(connectionFrom({}, { GHOST_API_TOKENS: digest }).credentials.token, null)
  assert.equal(connectionFrom({}, { GHOST_TOKEN: 'explicit-token-0123456789', GHOST_API_TOKENS: 'client-token-0123456789' }).credentials.token, 'explicit-token-0123456789')
})
