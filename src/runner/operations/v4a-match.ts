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

/**
 * The file's lines under each comparison, made once per file (and level) however many chunks
 * and anchors search it; the lines are not changed while a file's chunks are located.
 */
const normalised = new WeakMap<readonly string[], Array<readonly string[] | undefined>>()
function linesAt(lines: readonly string[], level: number): readonly string[] {
  const norm = LEVELS[level]
  if (level === 0 || norm === undefined) return lines
  const cached = normalised.get(lines) ?? []
  normalised.set(lines, cached)
  return (cached[level] ??= lines.map(norm))
}

/** Every start in [from, to] where `pattern` matches at one level. */
function matchesAt(lines: readonly string[], pattern: readonly string[], from: number, to: number, level: number): number[] {
  const want = pattern.map(LEVELS[level] ?? ((s) => s))
  const have = linesAt(lines, level)
  const out: number[] = []
  for (let i = from; i <= to; i++) {
    let ok = true
    for (let j = 0; j < want.length; j++) {
      if (have[i + j] !== want[j]) {
        ok = false
        break
      }
    }
    if (ok) out.push(i)
  }
  return out
}

/**
 * Every place `pattern` starts in `lines` at or after `start`, at the strictest comparison that
 * finds it at all (codex's seek_sequence levels: exact, then trailing whitespace ignored, then
 * surrounding whitespace, then Unicode punctuation folded to ASCII). More than one is ambiguous;
 * none is not found. An end-of-file pattern is looked for at the very end only.
 */
export function seekAll(lines: readonly string[], pattern: readonly string[], start: number, eof: boolean): number[] {
  if (pattern.length === 0) return [start]
  const last = lines.length - pattern.length
  const from = eof ? last : start
  if (last < start || from < 0) return []
  for (let level = 0; level < LEVELS.length; level++) {
    const found = matchesAt(lines, pattern, from, last, level)
    if (found.length > 0) return found
  }
  return []
}
