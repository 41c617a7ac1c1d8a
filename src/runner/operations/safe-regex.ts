import vm from 'node:vm'
import { RejectError } from './errors.js'

export const DEFAULT_REGEX_TIMEOUT_MS = 500

// Runs in a fresh context so the vm timeout can interrupt a backtracking regex; the patch's
// strings only ever reach it as data.
const SCRIPT = new vm.Script(`
  (() => {
    const re = new RegExp(pattern, 'g')
    let count = 0
    for (const _ of text.matchAll(re)) count++
    return [count, count === 0 ? text : text.replace(re, replacement)]
  })()
`)

export interface RegexReplaceResult {
  count: number
  text: string
}

/** `text.replace(new RegExp(pattern, 'g'), replacement)` with `$` semantics, bounded in time. */
export function regexReplace(text: string, pattern: string, replacement: string, timeoutMs: number, path: string): RegexReplaceResult {
  try {
    new RegExp(pattern, 'g')
  } catch (err) {
    throw new RejectError('INVALID_REGEX', `invalid regular expression: ${(err as Error).message}`, { path, detail: pattern })
  }
  let result: unknown
  try {
    result = SCRIPT.runInNewContext({ text, pattern, replacement }, { timeout: timeoutMs })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new RejectError('REGEX_TIMEOUT', `regular expression ran longer than ${timeoutMs} ms`, { path, detail: pattern })
    }
    throw err
  }
  const [count, out] = result as [number, string]
  return { count, text: out }
}
