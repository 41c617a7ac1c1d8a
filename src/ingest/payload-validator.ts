import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import type { TSchema } from '@sinclair/typebox'
import { LegacyV1Patch, LegacyV2Patch, NativePatch, OperationKinds, type PatchFormat, type PatchPayload } from '../schemas/patch.js'

export interface FieldError {
  instancePath: string
  message: string
}

const compiled = <T extends TSchema>(s: T) => TypeCompiler.Compile(s)
const FORMATS = { native: compiled(NativePatch), legacy_v1: compiled(LegacyV1Patch), legacy_v2: compiled(LegacyV2Patch) }
const OPS: Record<string, TypeCheck<TSchema>> = Object.fromEntries(Object.entries(OperationKinds).map(([k, s]) => [k, compiled(s)]))

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Which payload format a body claims to be, by its distinguishing fields. */
export function detectFormat(body: unknown): PatchFormat | null {
  if (!isObject(body)) return null
  if ('operations' in body) return 'native'
  if ('blockId' in body || 'mutations' in body) return 'legacy_v2'
  if ('target_file' in body || 'patch' in body) return 'legacy_v1'
  return null
}

function errorsOf(check: TypeCheck<TSchema>, value: unknown, prefix = ''): FieldError[] {
  const out: FieldError[] = []
  for (const e of check.Errors(value)) {
    out.push({ instancePath: prefix + e.path, message: e.message })
    if (out.length >= 50) break
  }
  return out
}

/**
 * Validates a webhook body against the schema of the format it claims, dispatching operations on
 * their `op` so every error names the exact field (a plain union would only say "no branch
 * matched"). Returns the typed payload or every failing field as a JSON pointer.
 */
export function validatePayload(body: unknown): { format: PatchFormat; value: PatchPayload } | { errors: FieldError[] } {
  const format = detectFormat(body)
  if (format === null) {
    return { errors: [{ instancePath: '', message: 'Expected a native patch (with `operations`) or a legacy v1/v2 payload' }] }
  }
  const check = FORMATS[format]
  if (check.Check(body)) return { format, value: body as PatchPayload }
  if (format !== 'native' || !isObject(body) || !Array.isArray(body.operations)) return { errors: errorsOf(check, body) }

  // Native: report top-level errors except the union noise, then each operation by its kind.
  const errors = errorsOf(check, body).filter((e) => !/^\/operations\/\d+/.test(e.instancePath))
  body.operations.forEach((op, i) => {
    // Own keys only: `op: "__proto__"` must not find Object.prototype.
    const kind = isObject(op) && typeof op.op === 'string' && Object.hasOwn(OPS, op.op) ? OPS[op.op] : undefined
    if (!kind) {
      errors.push({ instancePath: `/operations/${i}/op`, message: `Expected one of ${Object.keys(OPS).join(', ')}` })
    } else if (!kind.Check(op)) {
      errors.push(...errorsOf(kind, op, `/operations/${i}`))
    }
  })
  return { errors: errors.slice(0, 50) }
}
