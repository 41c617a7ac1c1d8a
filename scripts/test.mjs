// Runs every test/**/*.test.ts with node:test through tsx; Node 20's --test has no glob support.
import process from 'node:process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? find(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  )
}

const only = process.argv.slice(2)
const files = only.length > 0 ? only : find('test').sort()
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' })
process.exit(res.status ?? 1)
