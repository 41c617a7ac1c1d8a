import { it } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { openSqliteStore } from '../src/store/sqlite/index.js'
import { gitRepo, tempDir } from './helpers/app.js'
import { descendants, kill, killGroup, running, serviceToken, spawnService } from './helpers/process.js'

const status = async (url: string) => {
  try {
    return (await fetch(url)).status
  } catch {
    return 'refused' as const
  }
}

// Load balancers must see readiness fail before connections are refused: on SIGTERM the
// listener stays open for the drain delay with /health/ready 503 and /health/live 200.
it('SIGTERM: ready turns 503 at once, live stays 200 until the listener closes, exit 0', async () => {
  const env = { GHOST_DATA_DIR: tempDir(), GHOST_API_TOKENS: serviceToken(), GHOST_WORKSPACES: `default=${gitRepo()}`, GHOST_DRAIN_DELAY_MS: '2500' }
  const svc = await spawnService('start', env)
  try {
    for (let i = 0; i < 200 && (await status(`${svc.url}/health/ready`)) !== 200; i++) await new Promise((r) => setTimeout(r, 50))
    assert.equal(await status(`${svc.url}/health/ready`), 200, svc.output())

    const exited = once(svc.child, 'exit')
    svc.child.kill('SIGTERM')
    let ready: number | string = 200
    for (let i = 0; i < 40 && ready === 200; i++) {
      ready = await status(`${svc.url}/health/ready`)
      if (ready === 200) await new Promise((r) => setTimeout(r, 25))
    }
    assert.equal(ready, 503, 'readiness did not turn 503 after SIGTERM')
    assert.equal(await status(`${svc.url}/health/live`), 200, 'liveness must stay green while draining')

    const [code] = await exited
    assert.equal(code, 0, svc.output())
    assert.equal(await status(`${svc.url}/health/live`), 'refused')
  } finally {
    await kill(svc.child)
  }
})

/**
 * The command README gives to run the service (`npm ci && <this>  # runs the service`), as argv.
 * Read from README itself, so the test follows what people are told to type.
 */
function readmeRunCommand(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const line = readme.split('\n').find((l) => /#\s*runs the service/.test(l))
  const command = line?.replace(/\s*#.*$/, '').split('&&').at(-1)?.trim()
  assert.ok(command, 'README names the command that runs the service')
  return command.split(/\s+/)
}

const patchBody = (n: number) => JSON.stringify({ target: 'default', description: `load ${n}`, operations: [{ op: 'write', path: `load/${n}.txt`, contents: `${n}\n` }] })

/**
 * A POST /webhook whose body is sent in two halves: the first now, the second when `finish()` is
 * called. Until then the request is in flight on the server.
 */
function slowUpload(port: number, token: string, body: string) {
  const half = Math.floor(body.length / 2)
  let finish!: () => void
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/webhook', method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ status: res.statusCode!, body: text }))
      },
    )
    req.on('error', reject)
    req.write(body.slice(0, half))
    finish = () => req.end(body.slice(half))
  })
  return { answer, finish: () => finish() }
}

async function portIsFree(port: number): Promise<boolean> {
  const srv = createServer()
  try {
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve))
    return true
  } catch {
    return false
  } finally {
    srv.close()
  }
}

const DRAIN_MS = 2000

// A supervisor stops the service by signalling the pid it started (README's run command), or
// that pid's whole process group (systemd, a terminal's Ctrl-C). Either way the drain must run
// to its end inside that pid: readiness 503 at once, requests in flight answered, every process
// of the tree gone, exit 0, the port free for the next start.
for (const target of ['its own pid', 'its whole process group'] as const) {
  it(`README's run command under load, SIGTERM to ${target}: ready 503 at once, in-flight requests finish, the tree exits 0, the port is free`, { timeout: 120_000 }, async () => {
    const argv = readmeRunCommand()
    const token = serviceToken()
    const env = { GHOST_DATA_DIR: tempDir(), GHOST_API_TOKENS: token, GHOST_WORKSPACES: `default=${gitRepo()}`, GHOST_DRAIN_DELAY_MS: String(DRAIN_MS) }
    const svc = await spawnService('start', env, { argv, timeoutMs: 60_000 })
    const pid = svc.child.pid!
    try {
      for (let i = 0; i < 400 && (await status(`${svc.url}/health/ready`)) !== 200; i++) await new Promise((r) => setTimeout(r, 50))
      assert.equal(await status(`${svc.url}/health/ready`), 200, svc.output())
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

      // Load: clients post patches until readiness turns 503, as a load balancer's health check
      // would take the instance out; the runner applies them meanwhile.
      let n = 0
      let drainSeen = false
      const answers = new Map<string, number>()
      const failures: string[] = []
      const client = async () => {
        while (!drainSeen) {
          try {
            const res = await fetch(`${svc.url}/webhook`, { method: 'POST', headers, body: patchBody(n++) })
            const body = (await res.json()) as { code?: string }
            const key = `${res.status}${body.code ? ` ${body.code}` : ''}`
            answers.set(key, (answers.get(key) ?? 0) + 1)
            if (res.status !== 202) failures.push(key)
          } catch (err) {
            failures.push(String((err as Error).cause ?? err))
          }
        }
      }
      const clients = Array.from({ length: 4 }, client)
      while ((answers.get('202') ?? 0) < 20) await new Promise((r) => setTimeout(r, 20))
      const tree = [pid, ...descendants(pid)]
      const upload = slowUpload(svc.port, token, patchBody(1_000_000))
      await new Promise((r) => setTimeout(r, 100))

      const exited = once(svc.child, 'exit')
      const closed = once(svc.child, 'close')
      const signalledAt = Date.now()
      if (target === 'its own pid') svc.child.kill('SIGTERM')
      else process.kill(-pid, 'SIGTERM')
      let ready: number | string = 200
      while (ready === 200 && Date.now() - signalledAt < DRAIN_MS) ready = await status(`${svc.url}/health/ready`)
      drainSeen = true
      assert.equal(ready, 503, `readiness did not turn 503 while the listener was open\n${svc.output()}`)
      await Promise.all(clients)
      assert.deepEqual(failures, [], `every request sent before readiness turned 503 is answered: ${JSON.stringify([...answers])}`)

      // The upload is still in flight when the listener closes; it is answered all the same.
      while ((await status(`${svc.url}/health/live`)) !== 'refused') await new Promise((r) => setTimeout(r, 50))
      upload.finish()
      const uploaded = await upload.answer
      assert.equal(uploaded.status, 202, uploaded.body)

      const [code, signal] = (await exited) as [number | null, string | null]
      const exitAfterMs = Date.now() - signalledAt
      await closed
      assert.equal(code, 0, `exit ${code} ${signal}\n${svc.output()}`)
      assert.ok(exitAfterMs >= DRAIN_MS, `the command exited ${exitAfterMs} ms after SIGTERM, before the ${DRAIN_MS} ms drain ended`)
      assert.match(svc.output(), /"msg":"closed"/, 'the server finished its drain')
      assert.doesNotMatch(svc.output(), /second SIGTERM/, 'one stop request, even when delivered twice')
      for (let i = 0; i < 100 && tree.some(running); i++) await new Promise((r) => setTimeout(r, 50))
      assert.deepEqual(tree.filter(running), [], `processes of the tree outlived it (of ${tree.join(', ')})`)
      assert.equal(await portIsFree(svc.port), true, 'the port is free for the next start')

      // The runner finished what it had started: nothing was cut off mid-patch.
      const store = await openSqliteStore({ file: join(env.GHOST_DATA_DIR, 'ghost-runner.db') })
      try {
        const all = (await store.list({ limit: 1000 })).items
        const cutOff = all.filter((p) => p.status !== 'applied' && p.status !== 'queued')
        assert.deepEqual(cutOff.map((p) => `${p.id} ${p.status}`), [], 'no patch left running, failed or rejected by the stop')
        assert.ok(all.some((p) => p.status === 'applied'), 'the runner was at work')
      } finally {
        await store.close()
      }
    } finally {
      killGroup(pid)
    }
  })
}
