// Typographic punctuation a model may write as ASCII (or the other way round).
const PUNCTUATION: Record<string, string> = {}
for (const c of '\u2010\u2011\u2012\u2013\u2014\u2015\u2212') PUNCTUATION[c] = '-'
for (const c of '\u2018\u2019\u201a\u201b') PUNCTUATION[c] = "'"
for (const c of '\u201c\u201d\u201e\u201f') PUNCTUATION[c] = '"'
for (const c of '\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000') PUNCTUATION[c] = ' '
const PUNCTUATION_RE = new RegExp(`[${Object.keys(PUNCTUATION).join('')}]`, 'g')

const normalise = (s: string): string => s.trim().replace(PUNCTUATION_RE, (c) => PUNCTUATION[c] ?? c)

/** Ever looser line comparisons, tried in order over the whole search range before the next. */
const LEVELS: ReadonlyArray<(s: string) => string> = [(s) => s, (s) => s.trimEnd(), (s) => s.trim(), normalise]

function seekFrom(lines: readonly string[], pattern: readonly string[], start: number, only?: number): number {
  const from = only ?? start
  const to = only ?? lines.length - pattern.length
  for (const norm of LEVELS) {
    const want = pattern.map(norm)
    const have = lines.slice(from, to + pattern.length).map(norm)
    for (let i = 0; i <= to - from; i++) {
      let ok = true
      for (let j = 0; j < want.length; j++) {
        if (have[i + j] !== want[j]) {
          ok = false
          break
        }
      }
      if (ok) return from + i
    }
  }
  return -1
}

/**
 * Where `pattern` starts in `lines` at or after `start`, or -1: codex's seek_sequence (exact,
 * then trailing whitespace ignored, then surrounding whitespace, then Unicode punctuation
 * folded to ASCII). An end-of-file pattern is tried at the very end first and, as the reference
 * apply_patch.py does, searched for from `start` if it is not there.
 */
export function seekSequence(lines: readonly string[], pattern: readonly string[], start: number, eof: boolean): number {
  if (pattern.length === 0) return start
  if (pattern.length > lines.length) return -1
  if (eof) {
    const end = lines.length - pattern.length
    if (end >= start) {
      const at = seekFrom(lines, pattern, start, end)
      if (at !== -1) return at
    }
  }
  return seekFrom(lines, pattern, start)
}
