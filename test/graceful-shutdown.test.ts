import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'

// A process that drains for 1.5 s on its first stop signal, with a 1 s repeat window.
const SCRIPT = `
import { onShutdown } from './src/graceful-shutdown.ts'
const line = (msg, extra = {}) => process.stdout.write(JSON.stringify({ msg, ...extra }) + '\\n')
const log = { info: (o, m) => line(m, o), error: (o, m) => line(typeof o === 'string' ? o : m) }
const keep = setInterval(() => {}, 1000)
onShutdown({ deadlineMs: 10000, log, repeatWindowMs: 1000 }, async ({ signal }) => {
  line('stopping', { signal })
  await new Promise((r) => setTimeout(r, 1500))
  clearInterval(keep)
  line('stopped')
})
line('ready')
`

/** Starts the script, sends `signals` at their offsets (ms after the first), and returns how it ended. */
async function stopWith(signals: [NodeJS.Signals, number][]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const exited = once(child, 'exit')
  while (!output.includes('"ready"')) {
    assert.equal(child.exitCode, null, output)
    await new Promise((r) => setTimeout(r, 20))
  }
  let previous = 0
  for (const [signal, at] of signals) {
    await new Promise((r) => setTimeout(r, at - previous))
    previous = at
    child.kill(signal)
  }
  const [code] = (await exited) as [number | null]
  return { code, output }
}

it('the same stop signal again within the window is one request: the drain runs to its end, exit 0', async () => {
  const { code, output } = await stopWith([['SIGTERM', 0], ['SIGTERM', 200]])
  assert.equal(code, 0, output)
  assert.match(output, /the same stop signal again/)
  assert.match(output, /"stopped"/)
  assert.doesNotMatch(output, /second SIGTERM/)
})

it('the same signal after the window, or another stop signal, forces the exit with 1', async () => {
  for (const signals of [[['SIGTERM', 0], ['SIGTERM', 1200]], [['SIGTERM', 0], ['SIGINT', 200]]] as [NodeJS.Signals, number][][]) {
    const { code, output } = await stopWith(signals)
    assert.equal(code, 1, output)
    assert.match(output, new RegExp(`second ${signals[1]![0]}, exiting`))
    assert.doesNotMatch(output, /"stopped"/)
  }
})
