import { it } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { auth, testApp } from './helper.js'

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
