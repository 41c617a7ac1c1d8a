import { spawn, type ChildProcess } from 'node:child_process'
import { randomInt, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer, type Server } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { defineConfig, type Config, type WorkspaceInput } from '../../../src/config.js'
import { killOrphanCheck, runCheck, type CheckProcess } from '../../../src/runner/checks/run-checks.js'
import type { PatchRecord } from '../../../src/schemas/record.js'
import type { Store } from '../../../src/store/port.js'
import { enqueue, git, openTestStore, patch, runNext, writeTree } from '../../helpers/git.js'
import { hostProcessesWith } from '../../helpers/host-processes.js'
import { visibleDir } from '../../helpers/visible-dir.js'
import { privateDirs } from '../../../src/runner/checks/sandbox/support.js'

// What a hostile patch is after, planted where the service keeps it: the configuration file, the
// database (in each patch's description), another workspace, the service user's HOME and the
// environment of a service process.
const SECRET = `s3cret-${randomUUID()}`

/** A check that connects to a TCP port or a Unix socket: exit 0 connected, 1 with the error. */
const connect = (target: number | string) => [
  'node',
  '-e',
  `const net = require('net'); const t = process.argv[1]; const s = /^\\d+$/.test(t) ? net.connect(Number(t), '127.0.0.1') : net.connect(t)
   s.on('connect', () => { console.log('connected to ' + t); process.exit(0) }).on('error', (e) => { console.error(e.message); process.exit(1) })`,
  String(target),
]

function repo(root: string, files: Record<string, string> = { 'README.md': '# demo\n' }): string {
  mkdirSync(root, { recursive: true })
  git(root, 'init', '-q', '-b', 'main')
  writeTree(root, files)
  git(root, 'add', '-A')
  git(root, 'commit', '-q', '-m', 'initial')
  return root
}

/** Accepts connections and counts them: a check that reaches it shows up here. */
async function listen(at: number | string): Promise<{ server: Server; connections: () => number }> {
  let n = 0
  const server = createServer((socket) => {
    n++
    socket.destroy()
  })
  server.listen(at)
  await once(server, 'listening')
  after(() => server.close())
  return { server, connections: () => n }
}

/** The host itself can reach `target`: a refusal inside the sandbox is then the sandbox's doing. */
async function reachable(target: number | string): Promise<boolean> {
  const socket = typeof target === 'number' ? createConnection(target, '127.0.0.1') : createConnection(target)
  try {
    await once(socket, 'connect')
    return true
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}

const base = visibleDir()
const dataDir = path.join(base, 'data')
mkdirSync(dataDir, { mode: 0o755 })
const configFile = path.join(base, 'ghost-runner.json')
writeFileSync(configFile, JSON.stringify({ apiTokens: [SECRET] }))
const other = repo(path.join(base, 'other'), { 'secret.txt': `${SECRET}\n` })
const outsideFile = path.join(base, 'outside.txt')
const homeFile = path.join(os.userInfo().homedir, `.ghost-sandbox-test-${randomUUID()}`)
writeFileSync(homeFile, `${SECRET}\n`)
after(() => rmSync(homeFile, { force: true }))
// Stands for the server: its environment holds the tokens.
const serverLike: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { env: { GHOST_API_TOKENS: SECRET }, stdio: 'ignore' })
after(() => serverLike.kill('SIGKILL'))
const tcp = await listen(0)
const tcpPort = (tcp.server.address() as { port: number }).port
// /run holds the sockets of the host's services; a check must not reach them.
const unixPath = path.join('/run', `ghost-sandbox-test-${randomUUID()}.sock`)
const unix = await listen(unixPath)

const ATTACKS: Record<string, string[]> = {
  'read-config': ['grep', '-aF', SECRET, configFile],
  'read-database': ['grep', '-raF', SECRET, dataDir],
  'read-server-environ': ['grep', '-aF', SECRET, `/proc/${serverLike.pid}/environ`],
  'read-other-workspace': ['grep', '-raF', SECRET, other],
  'read-home': ['grep', '-aF', SECRET, homeFile],
  'write-outside': ['sh', '-c', 'echo pwned > "$1"', 'sh', outsideFile],
  'write-git-config': ['git', 'config', 'core.hooksPath', '/tmp'],
  'write-git-hook': ['sh', '-c', 'printf "#!/bin/sh\\necho pwned\\n" > .git/hooks/pre-commit'],
  'connect-tcp': connect(tcpPort),
  'connect-postgres': connect(5432),
  'connect-unix-socket': connect(unixPath),
  'connect-postgres-socket': connect('/var/run/postgresql/.s.PGSQL.5432'),
}
const attackWorkspace = (over: WorkspaceInput): WorkspaceInput => ({ checkTimeoutMs: 30_000, checks: ATTACKS, ...over })
const config: Config = defineConfig({
  dataDir,
  configFile,
  logLevel: 'silent',
  workspaces: {
    // Like the default workspace: inside the data directory, which checks must not see.
    default: attackWorkspace({ path: repo(path.join(dataDir, 'workspaces', 'default')) }),
    other: { path: other },
    // The same attacks with the sandbox turned off: each succeeds, so each refusal below is the sandbox's.
    open: attackWorkspace({ path: repo(path.join(base, 'open')), sandbox: 'none' }),
    online: attackWorkspace({ path: repo(path.join(base, 'online')), network: true }),
  },
  runner: { leaseMs: 30_000, heartbeatMs: 500, pollMs: 50, maxAttempts: 3, concurrency: 1 },
})
const store: Store = await openTestStore(dataDir)

describe('checks run in a sandbox', () => {
  async function attack(target: string, check: string): Promise<PatchRecord> {
    // The database holds every patch's description: a check that can read it finds the secret.
    await enqueue(store, patch({ target, description: `deploy with ${SECRET}`, checks: [check], operations: [{ op: 'write', path: 'note.txt', contents: `${check}\n` }] }))
    const { record } = await runNext(store, config)
    return record
  }

  function refused(record: PatchRecord, why: RegExp | null) {
    assert.equal(record.status, 'failed', `the check succeeded: ${JSON.stringify(record.result?.checks[0]?.output_tail)}`)
    assert.equal(record.error?.code, 'CHECK_FAILED')
    const output = record.result!.checks[0]!.output_tail
    assert.ok(!output.includes(SECRET) && !record.error!.detail?.includes(SECRET), output)
    if (why !== null) assert.match(output, why)
  }

  for (const [check, why] of [
    ['read-config', null],
    ['read-database', null],
    ['read-server-environ', /No such file or directory/],
    ['read-other-workspace', null],
    ['read-home', /No such file or directory/],
  ] as const) {
    it(`${check}: the secret is not visible inside (the unsandboxed control finds it)`, async () => {
      const control = await attack('open', check)
      assert.equal(control.status, 'applied', JSON.stringify(control.error))
      const record = await attack('default', check)
      refused(record, why)
      // Hidden, not merely unreadable: grep found nothing to match, or nothing at all.
      assert.ok([1, 2].includes(record.result!.checks[0]!.exit_code!), String(record.result!.checks[0]!.exit_code))
    })
  }

  it('write-outside: the file system outside the workspace is read-only', async () => {
    const control = await attack('open', 'write-outside')
    assert.equal(control.status, 'applied', JSON.stringify(control.error))
    rmSync(outsideFile)
    const record = await attack('default', 'write-outside')
    // A checkout under /tmp or /var/tmp puts the file's directory inside the sandbox's own private
    // tmpfs (the workspace's parents are made there): the write lands in it and goes with the
    // sandbox. Anywhere else the host's file system is read-only inside.
    if (!privateDirs().some((dir) => outsideFile.startsWith(`${dir}/`))) refused(record, /Read-only file system/)
    assert.equal(existsSync(outsideFile), false, 'nothing was written on the host')
  })

  it('write-git-config and write-git-hook: the git dir is read-only, so the service’s git never obeys a check', async () => {
    const gitDir = path.join(config.workspaces.default!.path, '.git')
    const configBefore = readFileSync(path.join(gitDir, 'config'), 'utf8')
    const hooksBefore = readdirSync(path.join(gitDir, 'hooks')).sort()
    refused(await attack('default', 'write-git-config'), /Read-only file system/)
    refused(await attack('default', 'write-git-hook'), /Read-only file system/)
    assert.equal(readFileSync(path.join(gitDir, 'config'), 'utf8'), configBefore)
    assert.deepEqual(readdirSync(path.join(gitDir, 'hooks')).sort(), hooksBefore)
    // Unsandboxed, the same check rewrites the git config.
    assert.equal((await attack('open', 'write-git-config')).status, 'applied')
    assert.match(readFileSync(path.join(config.workspaces.open!.path, '.git', 'config'), 'utf8'), /hooksPath = \/tmp/)
  })

  it('connect-tcp and connect-postgres: no network, not even loopback', async () => {
    assert.equal(await reachable(tcpPort), true)
    const seen = tcp.connections()
    refused(await attack('default', 'connect-tcp'), /ECONNREFUSED|ENETUNREACH/)
    assert.equal(tcp.connections(), seen, 'the check reached the test’s port')
    if (await reachable(5432)) refused(await attack('default', 'connect-postgres'), /ECONNREFUSED|ENETUNREACH/)
  })

  it('connect-unix-socket and connect-postgres-socket: the sockets under /run are not there', async () => {
    assert.equal(await reachable(unixPath), true)
    const seen = unix.connections()
    refused(await attack('default', 'connect-unix-socket'), /ENOENT/)
    assert.equal(unix.connections(), seen, 'the check reached a socket under /run')
    if (await reachable('/var/run/postgresql/.s.PGSQL.5432')) refused(await attack('default', 'connect-postgres-socket'), /ENOENT/)
  })

  it('network: true shares the host network with the checks of that workspace', async () => {
    const seen = tcp.connections()
    const record = await attack('online', 'connect-tcp')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    assert.match(record.result!.checks[0]!.output_tail, /connected to/)
    assert.equal(tcp.connections(), seen + 1)
  })
})

const token = () => String(randomInt(100_000, 999_999))
const sleepers = { fork: token(), setsid: token(), timeout: token() }
const limitsBase = visibleDir('limits-')
const limitedRoot = repo(path.join(limitsBase, 'ws'))
const limitsConfig = defineConfig({
  dataDir: path.join(limitsBase, 'data'),
  logLevel: 'silent',
  workspaces: {
    default: {
      path: limitedRoot,
      checkTimeoutMs: 60_000,
      limits: { cpuSeconds: 1, memoryMb: 1024, fileSizeMb: 1, processes: 32, openFiles: 64 },
      checks: {
        fork: ['sh', '-c', `i=0; while [ $i -lt 100 ]; do sleep 30.${sleepers.fork} & i=$((i+1)); done; wait`],
        'big-file': ['sh', '-c', 'head -c 2000000 /dev/zero > big.bin'],
        memory: ['node', '-e', 'const kept = []; for (;;) kept.push(Buffer.alloc(64 << 20, 1))'],
        cpu: ['sh', '-c', 'while :; do :; done'],
        setsid: ['sh', '-c', `setsid sleep 600.${sleepers.setsid} & sleep 0.5; exit 0`],
        'open-files': ['sh', '-c', 'test "$(ulimit -n)" = 64'],
      },
    },
    slow: {
      path: repo(path.join(limitsBase, 'slow')),
      checkTimeoutMs: 1500,
      checks: { hang: ['sh', '-c', `setsid sleep 600.${sleepers.timeout} & exec sleep 60`] },
    },
  },
  runner: { leaseMs: 30_000, heartbeatMs: 500, pollMs: 50, maxAttempts: 3, concurrency: 1 },
})
mkdirSync(limitsConfig.dataDir, { recursive: true })
const limitsStore: Store = await openTestStore(limitsConfig.dataDir)

describe('sandbox limits', () => {
  async function run(check: string, target = 'default'): Promise<PatchRecord> {
    await enqueue(limitsStore, patch({ target, checks: [check], operations: [{ op: 'write', path: 'note.txt', contents: `${check}\n` }] }))
    return (await runNext(limitsStore, limitsConfig)).record
  }

  it('forks past the process limit: refused, reported, and every process gone', async () => {
    const record = await run('fork')
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.message, 'check "fork" reached the limit of 32 processes (threads count too)')
    assert.deepEqual(hostProcessesWith(`30.${sleepers.fork}`), [])
  })

  it('writes a file past the size limit: stopped at the limit and reported', async () => {
    const record = await run('big-file')
    rmSync(path.join(limitedRoot, 'big.bin'), { force: true })
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.message, 'check "big-file" wrote a file larger than the 1 MB limit')
  })

  it('allocates past the memory limit: the allocation fails and it is reported', async () => {
    const record = await run('memory')
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.message, 'check "memory" ran out of memory under its limit of 1024 MB of address space per process')
  })

  it('burns CPU past the CPU limit: stopped and reported', async () => {
    const record = await run('cpu')
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.message, 'check "cpu" exceeded its CPU time limit (1 s)')
  })

  it('has the configured open-file limit', async () => {
    const record = await run('open-files')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
  })

  it('leaves `setsid sleep 600` behind: it dies with the check', async () => {
    const record = await run('setsid')
    assert.equal(record.status, 'applied', JSON.stringify(record.error))
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(hostProcessesWith(`600.${sleepers.setsid}`), [])
  })

  it('times out with a `setsid` process running: both killed, and reported', async () => {
    const record = await run('hang', 'slow')
    assert.equal(record.status, 'failed')
    assert.equal(record.error?.code, 'CHECK_TIMEOUT')
    assert.match(record.error!.message, /^check "hang" timed out after \d+ ms and was killed by SIGKILL with every process it started$/)
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(hostProcessesWith(`600.${sleepers.timeout}`), [])
  })

  it('the crash marker of a running check is enough to stop it and everything in its cgroup', async () => {
    const sleeper = `600.${token()}`
    let proc: CheckProcess | undefined
    const running = runCheck('orphan', ['sh', '-c', `setsid sleep ${sleeper} & exec sleep 60`], { cwd: limitedRoot, timeoutMs: 60_000, onSpawn: (p) => (proc = p) })
    const deadline = Date.now() + 10_000
    while (hostProcessesWith(`sleep ${sleeper}`).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    assert.ok(proc !== undefined)
    // What a runner restarted after a crash reads back from the marker.
    assert.equal(killOrphanCheck(JSON.parse(JSON.stringify(proc)) as CheckProcess), true)
    const run = await running
    assert.equal(run.signal, 'SIGKILL')
    assert.deepEqual(hostProcessesWith(`sleep ${sleeper}`), [])
    if (proc.cgroup !== undefined) assert.equal(existsSync(proc.cgroup), false, 'the cgroup was left behind')
  })
})
