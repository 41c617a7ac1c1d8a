import vm from 'node:vm'
import { RejectError } from './errors.js'
import { readTemplate, substitutionLength, type Template } from './substitution.js'

export const DEFAULT_REGEX_TIMEOUT_MS = 500

// Both run in a fresh context so the vm timeout can interrupt a backtracking regex; the patch's
// strings only ever reach them as data. MEASURE counts the matches and the length of the result
// without building it (each match is replaced by nothing), REPLACE builds it.
const MEASURE = new vm.Script(`
  (() => {
    const re = new RegExp(pattern, 'g')
    let count = 0
    let length = text.length
    text.replace(re, (...args) => {
      count++
      length += measure(args) - args[0].length
      return ''
    })
    return [count, length]
  })()
`)
const REPLACE = new vm.Script(`text.replace(new RegExp(pattern, 'g'), replacement)`)

export interface RegexMeasure {
  count: number
  /** The length of the result, in UTF-16 code units (never more than its bytes). */
  length: number
}

function run(script: vm.Script, context: Record<string, unknown>, timeoutMs: number, path: string, pattern: string): unknown {
  try {
    return script.runInNewContext(context, { timeout: timeoutMs })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new RejectError('REGEX_TIMEOUT', `regular expression ran longer than ${timeoutMs} ms`, { path, detail: pattern })
    }
    throw err
  }
}

function compile(pattern: string, path: string): RegExp {
  try {
    return new RegExp(pattern, 'g')
  } catch (err) {
    throw new RejectError('INVALID_REGEX', `invalid regular expression: ${(err as Error).message}`, { path, detail: pattern })
  }
}

/** How many times `pattern` matches `text` and how long the replaced text would be, bounded in time. */
export function regexMeasure(text: string, pattern: string, replacement: string, timeoutMs: number, path: string): RegexMeasure {
  compile(pattern, path)
  let template: Template | null = null
  let captures = 0
  const measure = (args: unknown[]) => {
    if (template === null) {
      // A replacer gets the match, each group, the offset and the string, then the named groups if any.
      const named = typeof args[args.length - 1] === 'object'
      captures = args.length - 3 - (named ? 1 : 0)
      template = readTemplate(replacement, captures, named)
    }
    return substitutionLength(template, args, captures)
  }
  const [count, length] = run(MEASURE, { text, pattern, measure }, timeoutMs, path, pattern) as [number, number]
  return { count, length }
}

/** `text.replace(new RegExp(pattern, 'g'), replacement)` with `$` semantics, bounded in time. */
export function regexReplace(text: string, pattern: string, replacement: string, timeoutMs: number, path: string): string {
  compile(pattern, path)
  return run(REPLACE, { text, pattern, replacement }, timeoutMs, path, pattern) as string
}
