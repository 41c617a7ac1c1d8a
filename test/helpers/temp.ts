import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

const made: string[] = []
// One hook for the whole file, registered as this module loads: a hook registered where tempDir
// is called (a `before`, a describe body) would run as soon as that hook or suite ends.
after(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory under the system's temp dir, removed once the test file has run. */
export function tempDir(prefix = 'gr-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
