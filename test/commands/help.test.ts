import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/app.js'
import { runCli } from './cli-harness.js'

const COMMANDS = ['start', 'serve', 'work', 'migrate', 'dispatch', 'status']

describe('ghost-runner --help', { concurrency: true }, () => {
  it('lists every command and points to the per-command help', async () => {
    const run = await runCli(['--help'])
    assert.equal(run.code, 0, run.stderr)
    for (const c of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${c}\\s{2,}\\S`, 'm'), c)
    assert.match(run.stdout, /ghost-runner <command> --help/)
  })

  for (const command of COMMANDS) {
    it(`${command} --help prints that command's own help and does nothing else`, async () => {
      // A data dir that must stay untouched: help never starts, migrates or connects.
      const dataDir = join(tempDir(), 'data')
      const [flag, word] = await Promise.all([runCli([command, '--help'], { GHOST_DATA_DIR: dataDir }), runCli(['help', command])])
      assert.equal(flag.code, 0, flag.stderr)
      assert.match(flag.stdout, new RegExp(`^Usage: ghost-runner ${command} `))
      assert.equal(word.stdout, flag.stdout, '`help <command>` prints the same')
      assert.equal(existsSync(dataDir), false)
    })
  }

  it('documents the client flags and exit codes', async () => {
    const dispatch = (await runCli(['dispatch', '-h'])).stdout
    for (const flag of ['--target', '--description', '--check', '--wait', '--timeout', '--json', '--url', '--token', '--secret']) assert.match(dispatch, new RegExp(`^  ${flag}\\b`, 'm'), flag)
    for (const code of [0, 1, 2, 3, 4, 5, 64]) assert.match(dispatch, new RegExp(`^  ${code}\\s+\\S`, 'm'), `exit ${code}`)
    const status = (await runCli(['status', '-h'])).stdout
    for (const flag of ['--status', '--target', '--limit', '--cursor', '--json', '--url', '--token']) assert.match(status, new RegExp(`^  ${flag}\\b`, 'm'), flag)
    // A webhook secret signs POST /webhook only: status reads with a token, so it offers no --secret.
    assert.doesNotMatch(status, /^ {2}--secret\b/m)
  })
})
