import { once } from 'node:events'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { randomInt, randomUUID } from 'node:crypto'
import path from 'node:path'
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { buildApp } from '../../../src/app.js'
import { onPath } from '../../../src/runner/checks/sandbox/support.js'
import { defineConfig } from '../../../src/config.js'
import type { PatchRecord } from '../../../src/schemas/record.js'
import { makeWorkspace, tempDir } from '../../helpers/git.js'
import { hostProcessesWith } from '../../helpers/host-processes.js'
import { visibleDir } from '../../helpers/visible-dir.js'
import { until } from '../../helpers/app.js'
import { kill, serviceToken, spawnService, spawnWorker } from '../../helpers/process.js'

/** A PATH with git and sh on it but no bubblewrap: a host where the package is not installed. */
function pathWithoutBwrap(): string {
  const bin = path.join(tempDir('gr-nobwrap-'), 'bin')
  mkdirSync(bin)
  for (const tool of ['git', 'sh']) symlinkSync(onPath(tool)!, path.join(bin, tool))
  return bin
}

function configFile(dir: string, workspace: Record<string, unknown>, more: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'ghost-runner.json')
  writeFileSync(file, JSON.stringify({ workspaces: { default: { path: path.join(dir, 'workspaces', 'default'), ...workspace } }, ...more }))
  return file
}

describe('the sandbox at start', () => {
  it('without bubblewrap, `work` and `start` refuse to start with one line naming the package', async () => {
    const dir = tempDir('gr-data-')
    const env = { GHOST_DATA_DIR: dir, GHOST_CONFIG: configFile(dir, { checks: { test: ['true'] } }), PATH: pathWithoutBwrap() }
    const worker = spawnWorker(env)
    const [code] = (await once(worker.child, 'exit')) as [number]
    assert.equal(code, 1, worker.output())
    const lines = worker.output().split('\n').filter((l) => l.startsWith('ghost-runner:'))
    assert.deepEqual(lines, [
      'ghost-runner: checks run in a sandbox, but bubblewrap is not installed (no bwrap on PATH): install the Debian package bubblewrap, or set sandbox: "none" on workspace "default" to run its checks without one',
    ])
    await assert.rejects(spawnService('start', env), /service exited 1: [^]*\nghost-runner: checks run in a sandbox, but bubblewrap is not installed/)
    // A gateway runs no checks: it needs no sandbox.
    const gateway = await spawnService('serve', env)
    await kill(gateway.child, 'SIGTERM')
  })

  it('sandbox: "none" starts without bubblewrap, warns, and /health names it', async () => {
    const dir = tempDir('gr-data-')
    const env = { GHOST_DATA_DIR: dir, GHOST_CONFIG: configFile(dir, { checks: { test: ['true'] }, sandbox: 'none' }), PATH: pathWithoutBwrap() }
    const token = serviceToken()
    const service = await spawnService('start', { ...env, GHOST_API_TOKENS: token })
    try {
      assert.match(service.output(), /workspace \\"default\\" runs checks without a sandbox \(sandbox: \\"none\\"\)/)
      const deadline = Date.now() + 10_000
      let body: { flags: string[]; checks: Record<string, { status: string; output?: string }> }
      do {
        await new Promise((r) => setTimeout(r, 100))
        body = (await (await fetch(`${service.url}/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as typeof body
      } while (!body.flags.includes('checks_unconfined') && Date.now() < deadline)
      assert.ok(body.flags.includes('checks_unconfined'), JSON.stringify(body))
      assert.equal(body.checks.ghost_runner!.status, 'warn')
      assert.match(body.checks.ghost_runner!.output!, /workspace "default" runs checks without a sandbox/)
    } finally {
      await kill(service.child, 'SIGTERM')
    }
  })

  it('a runner in the server process refuses likewise: the app never becomes ready', async () => {
    // The probe runs once per process: this file probes in-process here only.
    const saved = process.env.PATH
    process.env.PATH = pathWithoutBwrap()
    try {
      const config = defineConfig({ dataDir: tempDir('gr-data-'), logLevel: 'silent', port: 0, workspaces: { default: { path: makeWorkspace(), checks: { t: ['true'] } } } })
      const app = await buildApp(config, { runner: true })
      await assert.rejects(async () => app.ready(), { name: 'SandboxUnavailableError', message: /bubblewrap is not installed[^\n]*Debian package bubblewrap/ })
      assert.equal(app.runner.running, false)
      await app.close()
    } finally {
      process.env.PATH = saved
    }
  })
})

describe('a hostile check through the running service', () => {
  it('reads, connects, forks and allocates; is refused each time, fails saying why, and /health/ready stays 200 throughout', async () => {
    const dir = visibleDir('service-')
    const token = serviceToken()
    const sleeper = `600.${randomInt(100_000, 999_999)}`
    const forker = `30.${randomInt(100_000, 999_999)}`
    const marker = `db-marker-${randomUUID()}`
    const file = configFile(
      dir,
      { checks: { test: ['node', 'attack.cjs'], fork: ['node', 'fork.cjs'], memory: ['node', 'memory.cjs'] }, limits: { processes: 64, memoryMb: 1024 } },
      { health: { intervalMs: 250 } },
    )
    const service = await spawnService('start', { GHOST_DATA_DIR: dir, GHOST_CONFIG: file, GHOST_API_TOKENS: token })
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

    const post = async (check: string | null, name: string, contents: string): Promise<PatchRecord> => {
      const res = await fetch(`${service.url}/webhook`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ target: 'default', description: `${check} ${marker}`, checks: check === null ? [] : [check], operations: [{ op: 'write', path: name, contents }] }),
      })
      assert.equal(res.status, 202, await res.clone().text())
      const { id } = (await res.json()) as { id: string }
      const deadline = Date.now() + 60_000
      for (;;) {
        const record = (await (await fetch(`${service.url}/patches/${id}`, { headers })).json()) as PatchRecord
        if (!['queued', 'running'].includes(record.status)) return record
        if (Date.now() > deadline) assert.fail(`patch still ${record.status}\n${service.output()}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }

    // A first patch without checks: under the TypeScript loader the first patch after a start
    // stalls the event loop while modules load, checks or not. That is not what is measured here.
    assert.equal((await post(null, 'warm-up.txt', 'ready\n')).status, 'applied')
    // Ready once its probes are past the warm-up (the event-loop probe reports the worst of its
    // last two rounds); from then on polled all along, every answer must be 200.
    await new Promise((r) => setTimeout(r, 4 * 250))
    await until('the service to be ready', async () => (await fetch(`${service.url}/health/ready`)).status === 200, 20_000, service.output)
    const ready: number[] = []
    let polling = true
    const poller = (async () => {
      while (polling) {
        const res = await fetch(`${service.url}/health/ready`).catch(() => null)
        ready.push(res?.status ?? 0)
        await new Promise((r) => setTimeout(r, 25))
      }
    })()

    try {
      // What a patch rewriting the test script would run: it looks for the service's secrets.
      const attack = `
        const fs = require('fs'), net = require('net'), { spawn } = require('child_process')
        const secrets = [${JSON.stringify(token)}, ${JSON.stringify(marker)}]
        const found = []
        const read = (p) => { try { const t = fs.readFileSync(p, 'latin1'); if (secrets.some((s) => t.includes(s))) found.push(p); return 'read' } catch (e) { return e.code } }
        const dial = (t) => new Promise((done) => {
          const s = typeof t === 'number' ? net.connect(t, '127.0.0.1') : net.connect(t)
          s.on('connect', () => { found.push(String(t)); s.destroy(); done('connected') }).on('error', (e) => done(e.code))
        })
        ;(async () => {
          const report = {
            environ: read('/proc/${service.child.pid}/environ'),
            config: read(${JSON.stringify(file)}),
            database: read(${JSON.stringify(path.join(dir, 'ghost-runner.db'))}),
            service: await dial(${service.port}),
            postgres: await dial(5432),
            postgresSocket: await dial('/var/run/postgresql/.s.PGSQL.5432'),
          }
          spawn('setsid', ['sleep', '${sleeper}'], { detached: true, stdio: 'ignore' }).unref()
          console.log(JSON.stringify({ report, found }))
          process.exit(found.length > 0 ? 0 : 1)
        })()`
      const attacked = await post('test', 'attack.cjs', attack)
      assert.equal(attacked.status, 'failed', JSON.stringify(attacked.result?.checks))
      assert.equal(attacked.error?.message, 'check "test" exited with code 1')
      const output = attacked.result!.checks[0]!.output_tail
      const seen = JSON.parse(/\{"report".*\}/.exec(output)?.[0] ?? assert.fail(output)) as { report: Record<string, string>; found: string[] }
      assert.deepEqual(seen.found, [])
      assert.deepEqual(seen.report, {
        environ: 'ENOENT',
        config: 'ENOENT',
        database: 'ENOENT',
        service: 'ECONNREFUSED',
        postgres: 'ECONNREFUSED',
        postgresSocket: 'ENOENT',
      })
      await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual(hostProcessesWith(`sleep ${sleeper}`), [], 'a process outlived the check')

      const fork = `
        const { spawn } = require('child_process')
        const more = () => spawn('sleep', ['${forker}']).on('spawn', more).on('error', (e) => { console.error(e.message); process.exit(1) })
        more()`
      const forked = await post('fork', 'fork.cjs', fork)
      assert.equal(forked.status, 'failed')
      assert.equal(forked.error?.message, 'check "fork" reached the limit of 64 processes (threads count too)')
      assert.match(forked.error!.detail!, /EAGAIN/)
      assert.deepEqual(hostProcessesWith(`sleep ${forker}`), [])

      const memory = 'const kept = []; for (;;) kept.push(Buffer.alloc(64 << 20, 1))'
      const allocated = await post('memory', 'memory.cjs', memory)
      assert.equal(allocated.status, 'failed')
      assert.equal(allocated.error?.message, 'check "memory" ran out of memory under its limit of 1024 MB of address space per process')
    } finally {
      polling = false
      await poller
      await kill(service.child, 'SIGTERM')
    }
    assert.ok(ready.length > 20, `only ${ready.length} readiness answers`)
    assert.deepEqual(
      ready.filter((s) => s !== 200),
      [],
      `readiness was not 200 throughout`,
    )
  })
})
