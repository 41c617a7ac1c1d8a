import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import path from 'node:path'
import { after } from 'node:test'

const ROOT = new URL('../..', import.meta.url).pathname

/**
 * A temporary directory a sandboxed check could see if nothing hid it: under the repository's
 * gitignored .tmp/, not /tmp (every sandbox has a private /tmp of its own), and readable by
 * anyone, so only hiding by name can keep it from a check (the host scan hides private modes).
 */
export function visibleDir(prefix = 'sandbox-'): string {
  mkdirSync(path.join(ROOT, '.tmp'), { recursive: true })
  const dir = mkdtempSync(path.join(ROOT, '.tmp', prefix))
  chmodSync(dir, 0o755)
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
