// Finds where in a file some lines most nearly occur, for the hints a rejection carries. The work
// is bounded whatever the file and the patch hold: a few tokens per line, rare tokens only, a
// fixed number of windows scored in full.

/** Characters compared per line, and pattern lines used to find and score windows. */
const MAX_LINE_CHARS = 500
const MAX_PATTERN_LINES = 64
/** A token in more lines than this says little about where the pattern is. */
const MAX_TOKEN_LINES = 1000
/** Windows scored line by line after the cheap vote. */
const SHORTLIST = 32

const TOKEN = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]+/gu

const squash = (s: string): string => s.slice(0, MAX_LINE_CHARS).trim().replace(/\s+/g, ' ')

function bigrams(s: string): Map<string, number> {
  const out = new Map<string, number>()
  for (let i = 0; i + 1 < s.length; i++) {
    const g = s.slice(i, i + 2)
    out.set(g, (out.get(g) ?? 0) + 1)
  }
  return out
}

/** 1 when equal but for whitespace; otherwise the Dice coefficient of their character pairs. */
export function lineSimilarity(a: string, b: string): number {
  const x = squash(a)
  const y = squash(b)
  if (x === y) return 1
  if (x.length < 2 || y.length < 2) return 0
  const gx = bigrams(x)
  let shared = 0
  for (const [g, n] of bigrams(y)) shared += Math.min(n, gx.get(g) ?? 0)
  return (2 * shared) / (x.length - 1 + (y.length - 1))
}

/**
 * Mean similarity of the pattern to the lines starting at `start`, over the pattern's first
 * lines only (a long hunk would cost too much); lines past the end of the file count 0.
 */
export function windowSimilarity(lines: readonly string[], pattern: readonly string[], start: number): number {
  const n = Math.min(pattern.length, MAX_PATTERN_LINES)
  if (n === 0) return 0
  let sum = 0
  for (let j = 0; j < n; j++) {
    const line = lines[start + j]
    if (line !== undefined) sum += lineSimilarity(line, pattern[j] ?? '')
  }
  return sum / n
}

const tokens = (s: string): Set<string> => new Set(s.slice(0, MAX_LINE_CHARS).match(TOKEN) ?? [])

/**
 * Candidate window starts by a vote: each file line sharing a token with pattern line j votes for
 * the window that would put it at j, weighted by how rare the token is in the file.
 */
function vote(lines: readonly string[], pattern: readonly string[]): Map<number, number> {
  const where = new Map<string, number[]>()
  pattern.slice(0, MAX_PATTERN_LINES).forEach((p, j) => {
    for (const t of tokens(p)) where.set(t, [...(where.get(t) ?? []), j])
  })
  const hits = new Map<string, number[]>()
  lines.forEach((line, i) => {
    for (const t of tokens(line)) {
      if (!where.has(t)) continue
      const list = hits.get(t) ?? []
      // One past the limit marks the token as too common; the list grows no further.
      if (list.length <= MAX_TOKEN_LINES) list.push(i)
      hits.set(t, list)
    }
  })
  const last = Math.max(0, lines.length - pattern.length)
  const votes = new Map<number, number>()
  for (const [t, at] of hits) {
    if (at.length > MAX_TOKEN_LINES) continue
    for (const i of at) {
      for (const j of where.get(t) ?? []) {
        const start = Math.min(last, Math.max(0, i - j))
        votes.set(start, (votes.get(start) ?? 0) + 1 / at.length)
      }
    }
  }
  return votes
}

export interface Window {
  start: number
  similarity: number
}

/** Up to `count` windows of the file most like `pattern`, best first, not overlapping, none under half the best. */
export function closestWindows(lines: readonly string[], pattern: readonly string[], count: number): Window[] {
  if (lines.length === 0 || pattern.length === 0) return []
  const shortlist = [...vote(lines, pattern)]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, SHORTLIST)
    .map(([start]) => ({ start, similarity: windowSimilarity(lines, pattern, start) }))
    .filter((w) => w.similarity > 0)
    .sort((a, b) => b.similarity - a.similarity || a.start - b.start)
  const out: Window[] = []
  for (const w of shortlist) {
    // The best always; others only while they are worth reading beside it.
    if (out.length >= count || w.similarity < (out[0]?.similarity ?? 0) / 2) break
    if (out.every((o) => Math.abs(o.start - w.start) >= pattern.length)) out.push(w)
  }
  return out
}
