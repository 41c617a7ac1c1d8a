import { after, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { buildApp } from '../src/app.js'
import { openSqliteStore } from '../src/store/sqlite/index.js'
import { auth, tempDir, testApp, testConfig } from './helpers/app.js'

/** An app whose log lines are collected, at the given level. */
async function loggedApp(level: string) {
  const lines: { msg: string; req?: { url: string }; res?: { statusCode: number } }[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const app = await testApp({}, { logger: { level, stream } })
  return { app, lines }
}

const requestLines = (lines: { msg: string }[]) => lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')

it('health and metrics polls write no request lines at info; other routes do', async () => {
  const { app, lines } = await loggedApp('info')
  for (const url of ['/health', '/health/live', '/health/startup', '/health/ready', '/metrics']) {
    await app.inject({ method: 'GET', url, headers: auth })
  }
  assert.deepEqual(requestLines(lines), [])
  await app.inject({ method: 'GET', url: '/patches', headers: auth })
  const logged = requestLines(lines)
  assert.equal(logged.length, 2)
  assert.equal(logged[0]!.msg, 'incoming request')
})

it('at debug level health polls are logged too', async () => {
  const { app, lines } = await loggedApp('debug')
  await app.inject({ method: 'GET', url: '/health/ready' })
  assert.equal(requestLines(lines).length, 2)
})

type Line = { level: number; msg: string; err?: { stack?: string }; code?: string; status?: number; cause?: unknown }
const WARN = 40
const ERROR = 50

// A flood past the queue cap is the service working as designed: each refusal is one line at
// warn without a stack, not an error. A 4xx is the client's business (info); only an unexpected
// failure is an error with its stack.
it('logs expected refusals without stacks (4xx at info, QUEUE_FULL and STORE_UNAVAILABLE at warn) and unexpected 500s as errors with a stack', async () => {
  const lines: Line[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  const store = await openSqliteStore({ file: join(tempDir(), 'ghost-runner.db') })
  const app = await buildApp(testConfig({ limits: { queueDepth: 1, ratePerMinute: 1000 } }), { logger: { level: 'info', stream }, store })
  app.get('/boom', async () => {
    throw new TypeError('a bug')
  })
  after(() => app.close())
  await app.ready()
  const post = (n: number) => app.inject({ method: 'POST', url: '/webhook', headers: auth, payload: { target: 'default', description: `p${n}`, operations: [{ op: 'write', path: 'a.txt', contents: 'a' }] } })

  assert.equal((await post(0)).statusCode, 202)
  for (let i = 1; i <= 5; i++) assert.equal((await post(i)).json().code, 'QUEUE_FULL')
  assert.equal((await app.inject({ method: 'GET', url: '/patches/pt_nope', headers: auth })).statusCode, 404)
  assert.equal((await app.inject({ method: 'GET', url: '/boom', headers: auth })).statusCode, 500)
  await store.close()
  assert.equal((await app.inject({ method: 'GET', url: '/patches/pt_nope', headers: auth })).json().code, 'STORE_UNAVAILABLE')

  const about = (code: string) => lines.filter((l) => l.code === code || (l.msg !== 'request completed' && JSON.stringify(l).includes(`"${code}"`)))
  const queueFull = about('QUEUE_FULL')
  assert.equal(queueFull.length, 5, JSON.stringify(queueFull))
  for (const l of queueFull) {
    assert.equal(l.level, WARN, JSON.stringify(l))
    assert.doesNotMatch(JSON.stringify(l), /"stack"/)
  }
  const notFound = about('NOT_FOUND')
  assert.equal(notFound.length, 1)
  assert.ok(notFound[0]!.level < WARN, JSON.stringify(notFound))
  const unavailable = about('STORE_UNAVAILABLE')
  assert.equal(unavailable.length, 1, JSON.stringify(unavailable))
  assert.equal(unavailable[0]!.level, WARN)
  assert.doesNotMatch(JSON.stringify(unavailable[0]), /"stack"/)
  assert.match(JSON.stringify(unavailable[0]!.cause), /closed|open/i, 'the cause is named')

  const errors = lines.filter((l) => l.level >= ERROR)
  assert.equal(errors.length, 1, JSON.stringify(errors))
  assert.match(errors[0]!.err?.stack ?? '', /TypeError: a bug/)
})
