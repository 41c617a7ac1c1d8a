import { it } from 'node:test'
import assert from 'node:assert/strict'
import { Webhook } from 'standardwebhooks'
import { secretKey, sign, verify } from '../../src/auth/webhook-signature.js'

// The test vector published with the Standard Webhooks specification.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

it('signs the specification test vector exactly', () => {
  assert.equal(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature)
})

it('verifies the test vector, and fails on every changed part', () => {
  const keys = [secretKey(VECTOR.secret)]
  const headers = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': `v1,bogus ${VECTOR.signature}` }
  const body = Buffer.from(VECTOR.body)
  assert.equal(verify(keys, headers, body, VECTOR.timestamp), null)
  assert.equal(verify(keys, headers, Buffer.from(VECTOR.body + ' '), VECTOR.timestamp), 'NO_MATCHING_SIGNATURE')
  assert.equal(verify(keys, { ...headers, 'webhook-id': 'msg_other' }, body, VECTOR.timestamp), 'NO_MATCHING_SIGNATURE')
  assert.equal(verify(keys, headers, body, VECTOR.timestamp + 301), 'TIMESTAMP_OUT_OF_TOLERANCE')
  assert.equal(verify(keys, { ...headers, 'webhook-timestamp': '1e9' }, body, VECTOR.timestamp), 'BAD_TIMESTAMP')
  assert.equal(verify(keys, { 'webhook-id': VECTOR.id }, body, VECTOR.timestamp), 'MISSING_HEADERS')
  assert.equal(verify([secretKey('whsec_' + Buffer.from('other').toString('base64'))], headers, body, VECTOR.timestamp), 'NO_MATCHING_SIGNATURE')
})

it('agrees with the reference library, and verifies bytes that are not UTF-8 as sent', () => {
  const ts = Math.floor(Date.now() / 1000)
  const ref = new Webhook(VECTOR.secret)
  assert.equal(sign(VECTOR.secret, 'msg_1', ts, '{"a":1}'), ref.sign('msg_1', new Date(ts * 1000), '{"a":1}'))
  const raw = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])
  const headers = { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': sign(VECTOR.secret, 'msg_2', ts, raw) }
  assert.equal(verify([secretKey(VECTOR.secret)], headers, raw, ts), null)
  const replaced = Buffer.from(raw.toString('utf8'))
  assert.equal(verify([secretKey(VECTOR.secret)], headers, replaced, ts), 'NO_MATCHING_SIGNATURE')
})
