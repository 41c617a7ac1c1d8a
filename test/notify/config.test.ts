import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { it } from 'node:test'
import { ConfigError, defineConfig, loadConfig } from '../../src/config.js'
import { tempDir } from '../helpers/app.js'

const SECRET = 'whsec_bm90aWZpY2F0aW9ucy1zZWNyZXQtMDEyMzQ1Njc4OQ=='

it('has no notification targets by default, and delivery settings with defaults', () => {
  const c = loadConfig({}, [], '/srv')
  assert.deepEqual(c.notifications, [])
  assert.deepEqual(c.notify, { timeoutMs: 10_000, maxAttempts: 10, backoffMs: 2000, maxBackoffMs: 3_600_000, pollMs: 1000, concurrency: 4 })
})

it('reads targets from GHOST_NOTIFY_URLS, signed with GHOST_NOTIFY_SECRET, or from flags', () => {
  const c = loadConfig({ GHOST_NOTIFY_URLS: 'https://a.example/hook, http://10.0.0.2:8080/x?k=1', GHOST_NOTIFY_SECRET: SECRET }, [], '/srv')
  assert.deepEqual(c.notifications, [
    { url: 'https://a.example/hook', secret: SECRET },
    { url: 'http://10.0.0.2:8080/x?k=1', secret: SECRET },
  ])
  const f = loadConfig({}, ['--notify-urls', 'https://b.example/h', '--notify-secret', SECRET], '/srv')
  assert.deepEqual(f.notifications, [{ url: 'https://b.example/h', secret: SECRET }])
})

it('reads targets with their events and delivery settings from the config file', () => {
  const file = join(tempDir(), 'ghost.yaml')
  writeFileSync(
    file,
    `notifications:\n  - url: https://ci.example/ghost\n    secret: ${SECRET}\n    events: [applied, failed, rejected]\nnotify: { maxAttempts: 4, backoffMs: 500 }\n`,
  )
  const c = loadConfig({ GHOST_CONFIG: file })
  assert.deepEqual(c.notifications, [{ url: 'https://ci.example/ghost', secret: SECRET, events: ['applied', 'failed', 'rejected'] }])
  assert.equal(c.notify.maxAttempts, 4)
  assert.equal(c.notify.backoffMs, 500)
  assert.equal(c.notify.timeoutMs, 10_000)
})

it('refuses bad targets with one line naming the setting, never echoing a secret', () => {
  const file = (body: string) => {
    const f = join(tempDir(), 'ghost.json')
    writeFileSync(f, JSON.stringify(body))
    return f
  }
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{ GHOST_NOTIFY_URLS: 'https://a.example/h' }, /^GHOST_NOTIFY_SECRET: required with GHOST_NOTIFY_URLS/],
    [{ GHOST_NOTIFY_URLS: 'https://a.example/h', GHOST_NOTIFY_SECRET: 'hunter2-plain' }, /^GHOST_NOTIFY_SECRET: expected a whsec_… secret$/],
    [{ GHOST_NOTIFY_URLS: 'ftp://a.example/h', GHOST_NOTIFY_SECRET: SECRET }, /^GHOST_NOTIFY_URLS: .*\(at \/notifications\/0\/url\)$/],
    [{ GHOST_NOTIFY_URLS: 'https://a.example/h,https://a.example/h', GHOST_NOTIFY_SECRET: SECRET }, /^GHOST_NOTIFY_URLS: the same URL is configured twice$/],
    [{ GHOST_CONFIG: file({ notifications: [{ url: 'https://a.example/h', secret: 'whsec_!!' }] } as never) }, /^GHOST_CONFIG\.notifications\.0\.secret: /],
    [{ GHOST_CONFIG: file({ notifications: [{ url: 'https://a.example/h', secret: SECRET, events: ['merged'] }] } as never) }, /^GHOST_CONFIG\.notifications\.0\.events\.0: /],
    [{ GHOST_CONFIG: file({ notifications: [{ url: 'https://a.example/h', secret: SECRET, extra: 1 }] } as never) }, /^GHOST_CONFIG\.notifications\.0/],
    [{ GHOST_CONFIG: file({ notify: { timeoutMs: 0 } } as never) }, /^GHOST_CONFIG\.notify\.timeoutMs: /],
  ]
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig(env), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err))
      assert.match(err.message, message)
      assert.ok(!err.message.includes('hunter2') && !err.message.includes(SECRET.slice(6)), 'no secret in the message')
      return true
    })
  }
  assert.throws(() => defineConfig({ dataDir: '/tmp', notifications: [{ url: 'http://a/', secret: SECRET }, { url: 'http://a/', secret: SECRET }] }), /config\.notifications\.1\.url: the same URL/)
})
