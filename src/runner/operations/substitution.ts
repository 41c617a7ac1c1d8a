/**
 * The length of what a `$`-template of String.prototype.replace stands for, for one match,
 * worked out without building it (ECMAScript's GetSubstitution, lengths only): a regex replace
 * is measured first, so one that would produce a file over its limit is refused unbuilt.
 */

/** A template read once for a regex: its literal characters and what each reference names. */
type Ref = { kind: 'match' } | { kind: 'before' } | { kind: 'after' } | { kind: 'group'; index: number } | { kind: 'named'; name: string }
export interface Template {
  literal: number
  refs: Ref[]
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9'

/** Reads `template` for a regex with `captures` groups, with named groups or without. */
export function readTemplate(template: string, captures: number, named: boolean): Template {
  const out: Template = { literal: 0, refs: [] }
  let i = 0
  while (i < template.length) {
    const next = template[i + 1]
    if (template[i] !== '$' || next === undefined) {
      out.literal++
      i++
    } else if (next === '$') {
      out.literal++
      i += 2
    } else if (next === '&' || next === '`' || next === "'") {
      out.refs.push(next === '&' ? { kind: 'match' } : next === '`' ? { kind: 'before' } : { kind: 'after' })
      i += 2
    } else if (isDigit(next)) {
      let digits = isDigit(template[i + 2]) ? 2 : 1
      // $nn past the last group is $n followed by a digit.
      if (digits === 2 && Number(template.slice(i + 1, i + 3)) > captures) digits = 1
      const index = Number(template.slice(i + 1, i + 1 + digits))
      if (index >= 1 && index <= captures) out.refs.push({ kind: 'group', index })
      else out.literal += 1 + digits
      i += 1 + digits
    } else if (next === '<') {
      const close = template.indexOf('>', i + 2)
      if (close === -1 || !named) {
        out.literal += 2
        i += 2
      } else {
        out.refs.push({ kind: 'named', name: template.slice(i + 2, close) })
        i = close + 1
      }
    } else {
      out.literal++
      i++
    }
  }
  return out
}

/**
 * The length of the substitution for one match, from the arguments String.prototype.replace
 * gives a replacer function: the match, each group, the offset, the whole string, then the
 * named groups when the regex has any.
 */
export function substitutionLength(template: Template, args: readonly unknown[], captures: number): number {
  const match = String(args[0])
  const offset = args[captures + 1] as number
  const whole = args[captures + 2] as string
  const groups = args[captures + 3] as Record<string, unknown> | undefined
  let n = template.literal
  for (const ref of template.refs) {
    if (ref.kind === 'match') n += match.length
    else if (ref.kind === 'before') n += offset
    else if (ref.kind === 'after') n += Math.max(0, whole.length - offset - match.length)
    else if (ref.kind === 'group') n += ((args[ref.index] as string | undefined) ?? '').length
    else {
      const value = groups?.[ref.name]
      n += value === undefined ? 0 : String(value).length
    }
  }
  return n
}
