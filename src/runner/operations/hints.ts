import type { MatchRegion } from '../../schemas/record.js'
import { closestWindows, windowSimilarity } from './similarity.js'

/** What a rejection may carry: a few KB of the actual file at most, whatever the file holds. */
export const HINT_LIMITS = {
  regions: 3,
  candidates: 20,
  linesPerRegion: 24,
  lineChars: 200,
  totalChars: 4000,
  /** Lines shown either side of an ambiguous candidate, to pick context that tells them apart. */
  around: 3,
} as const

/** Turns a line as matched (possibly latin1-mapped bytes) into text for the record. */
export type Show = (line: string) => string

const cut = (s: string): string => (s.length > HINT_LIMITS.lineChars ? `${s.slice(0, HINT_LIMITS.lineChars)}…` : s)
const round = (n: number): number => Math.round(n * 1000) / 1000

interface Span {
  /** 0-based first and last line shown. */
  first: number
  last: number
  similarity: number
}

function toRegions(lines: readonly string[], spans: readonly Span[], show: Show): MatchRegion[] {
  const out: MatchRegion[] = []
  let budget = HINT_LIMITS.totalChars
  for (const span of spans) {
    if (budget <= 0) break
    const shown: string[] = []
    for (let i = span.first; i <= span.last && shown.length < HINT_LIMITS.linesPerRegion && budget > 0; i++) {
      const line = cut(show(lines[i] ?? ''))
      shown.push(line)
      budget -= line.length + 1
    }
    out.push({ start_line: span.first + 1, end_line: span.last + 1, similarity: round(span.similarity), lines: shown })
  }
  return out
}

/** The regions of `lines` most like `pattern`, best first: for text that was not found. */
export function closestRegions(lines: readonly string[], pattern: readonly string[], show: Show): MatchRegion[] {
  const windows = closestWindows(lines, pattern, HINT_LIMITS.regions)
  const spans = windows.map((w) => ({
    first: w.start,
    last: Math.min(lines.length, w.start + pattern.length) - 1,
    similarity: w.similarity,
  }))
  return toRegions(lines, spans, show)
}

/** The first few places `pattern` matched, each with a few lines either side: for ambiguous text. */
export function candidateRegions(lines: readonly string[], pattern: readonly string[], starts: readonly number[], show: Show): MatchRegion[] {
  const spans = starts.slice(0, HINT_LIMITS.regions).map((start) => ({
    first: Math.max(0, start - HINT_LIMITS.around),
    last: Math.min(lines.length - 1, start + Math.max(pattern.length, 1) - 1 + HINT_LIMITS.around),
    similarity: windowSimilarity(lines, pattern, start),
  }))
  return toRegions(lines, spans, show)
}

/** 1-based line numbers of the first candidates, as a rejection reports them. */
export const candidateLines = (starts: readonly number[]): number[] => starts.slice(0, HINT_LIMITS.candidates).map((s) => s + 1)

/** A file's text as lines without their endings, as hints number them. */
export const textLines = (text: string): string[] => {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

/** 0-based line index of each offset in `text`; offsets must ascend. */
export function lineIndexes(text: string, offsets: readonly number[]): number[] {
  const out: number[] = []
  let line = 0
  let pos = 0
  for (const off of offsets) {
    for (let i = text.indexOf('\n', pos); i !== -1 && i < off; i = text.indexOf('\n', i + 1)) line++
    pos = off
    out.push(line)
  }
  return out
}
