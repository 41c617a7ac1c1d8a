import { headerPaths } from '../ingest/header-paths.js'
import { detectFormat } from '../ingest/payload-validator.js'
import type { LegacyV1Patch, LegacyV2Patch, NativePatch, Operation, PatchPayload } from '../schemas/patch.js'

/** What a file given to `dispatch` holds, decided by its content, never by its name. */
export type FileKind = 'native' | 'legacy_v1' | 'legacy_v2' | 'diff' | 'apply_patch'

export interface Overrides {
  /** Only set when the user gave --target; diffs and V4A patches fall back to `default`. */
  target?: string
  description?: string
  checks: string[]
}

/** A file `dispatch` cannot turn into a request; the message is for the user as it stands. */
export class PatchFileError extends Error {}

const V4A_START = /^\*\*\* Begin Patch[ \t]*$/
const DIFF_START = /^diff --git |^--- \S.*\r?\n\+\+\+ \S/m

/** The kind of a file and, for JSON, its parsed value; null when it is none of the known kinds. */
export function detectKind(text: string): { kind: FileKind; json?: unknown } | null {
  const body = text.replace(/^\uFEFF/, '')
  const firstLine = body.trimStart().split(/\r?\n/, 1)[0] ?? ''
  if (firstLine.startsWith('{')) {
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch (err) {
      throw new PatchFileError(`not valid JSON: ${(err as Error).message}`)
    }
    const kind = detectFormat(json)
    if (kind === null) throw new PatchFileError('JSON with neither `operations` (a native patch) nor the fields of a legacy v1/v2 payload')
    return { kind, json }
  }
  if (V4A_START.test(firstLine)) return { kind: 'apply_patch' }
  if (DIFF_START.test(body)) return { kind: 'diff' }
  return null
}

/** A short description naming the files a diff or V4A patch touches. */
function describeFiles(op: Extract<Operation, { op: 'diff' | 'apply_patch' }>, source: string): string {
  const paths = headerPaths(op)
  const named = paths.slice(0, 5).join(', ') + (paths.length > 5 ? ` and ${paths.length - 5} more` : '')
  return `${source}: ${named || 'no files named'}`.slice(0, 200)
}

/** The webhook body for a file: JSON payloads as written (plus the flags), text patches wrapped in a native patch. */
export function buildPayload(text: string, source: string, overrides: Overrides): { kind: FileKind; payload: PatchPayload } {
  const detected = detectKind(text)
  if (detected === null) {
    throw new PatchFileError('cannot tell what it holds: expected a JSON patch (native or legacy), a unified diff, or a V4A patch starting with "*** Begin Patch"')
  }
  const { kind, json } = detected
  switch (kind) {
    case 'diff':
    case 'apply_patch': {
      const op: Extract<Operation, { op: 'diff' | 'apply_patch' }> = kind === 'diff' ? { op: 'diff', diff: text } : { op: 'apply_patch', patch: text }
      const payload: NativePatch = {
        target: overrides.target ?? 'default',
        description: overrides.description ?? describeFiles(op, source),
        operations: [op],
      }
      if (overrides.checks.length > 0) payload.checks = overrides.checks
      return { kind, payload }
    }
    case 'native': {
      const payload = json as NativePatch
      if (overrides.target !== undefined) payload.target = overrides.target
      if (overrides.description !== undefined) payload.description = overrides.description
      if (overrides.checks.length > 0) payload.checks = [...new Set([...(payload.checks ?? []), ...overrides.checks])]
      return { kind, payload }
    }
    case 'legacy_v1':
    case 'legacy_v2': {
      // Legacy payloads keep their own shape: v1 always targets `default`, both name checks in shell[].
      if (overrides.checks.length > 0) throw new PatchFileError('--check applies to native patches, diffs and V4A files; a legacy payload lists its commands in shell[]')
      if (kind === 'legacy_v1' && overrides.target !== undefined) throw new PatchFileError('--target cannot be used with a legacy v1 payload, which always targets `default`')
      const payload = json as LegacyV1Patch | LegacyV2Patch
      if (overrides.target !== undefined) (payload as LegacyV2Patch).target = overrides.target
      if (overrides.description !== undefined) payload.description = overrides.description
      return { kind, payload }
    }
  }
}
