import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { sendNotification, type SendResult } from '../../src/notify/send.js'
import { receiver } from './receiver.js'

// A collection in the middle of a request is what a busy service sees; tests force it.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const SECRET = 'whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMzQ1Njc4OQ=='

/** Sends to `url` while collecting garbage every 20 ms; rejects if no answer comes within `guardMs`. */
async function sendCollecting(url: string, timeoutMs: number, signal: AbortSignal, guardMs = 10_000): Promise<SendResult> {
  const collect = setInterval(gc, 20)
  let guard: NodeJS.Timeout | undefined
  try {
    const gaveUp = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`no result within ${guardMs} ms: the attempt hangs`)), guardMs)
    })
    return await Promise.race([sendNotification({ url, secret: SECRET, id: 'msg_1', body: '{}', timeoutMs, signal }), gaveUp])
  } finally {
    clearInterval(collect)
    clearTimeout(guard)
  }
}

describe('one notification attempt', () => {
  it('times out a receiver that never answers, even when memory is collected while it waits', async () => {
    const hook = await receiver(() => 'hang')
    const result = await sendCollecting(hook.url, 300, new AbortController().signal)
    assert.deepEqual(result, { ok: false, status: null, error: 'timed out after 300 ms', retryAfterMs: null, interrupted: false })
    assert.equal(hook.received.length, 1)
  })

  it('is interrupted by shutdown before its timeout, even when memory is collected while it waits', async () => {
    const hook = await receiver(() => 'hang')
    const shutdown = new AbortController()
    setTimeout(() => shutdown.abort(), 300)
    const result = await sendCollecting(hook.url, 60_000, shutdown.signal)
    assert.deepEqual(result, { ok: false, status: null, error: 'interrupted by shutdown', retryAfterMs: null, interrupted: true })
  })

  it('is interrupted at once when shutdown came first', async () => {
    const hook = await receiver(() => 200)
    const shutdown = new AbortController()
    shutdown.abort()
    const result = await sendCollecting(hook.url, 60_000, shutdown.signal)
    assert.equal(result.ok, false)
    assert.equal(!result.ok && result.interrupted, true)
    assert.equal(hook.received.length, 0)
  })

  it('leaves no timer behind an answered attempt', async () => {
    const hook = await receiver(() => 200)
    const shutdown = new AbortController()
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const result = await sendNotification({ url: hook.url, secret: SECRET, id: 'msg_1', body: '{}', timeoutMs: 60_000, signal: shutdown.signal })
    assert.deepEqual(result, { ok: true, status: 200 })
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before)
  })
})
