import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { UI_DIR } from '../../src/routes/ui.js'

/**
 * Builds the operator's page into dist/ui (as `npm run build` does) unless `onlyIfMissing` and
 * it is there. The build swaps files in atomically, so tests running at once may both build.
 */
export function buildUi(opts: { onlyIfMissing?: boolean } = {}): void {
  if (opts.onlyIfMissing && existsSync(`${UI_DIR}/index.html`)) return
  execFileSync(process.execPath, ['scripts/build-ui.mjs'], { cwd: new URL('../..', import.meta.url).pathname, stdio: 'pipe' })
}
