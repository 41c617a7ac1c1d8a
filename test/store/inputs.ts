// Patches and enqueue inputs the store tests share; apart from conformance.ts so the suites it
// composes (outbox, totals) can use them without importing it back.
import { randomUUID } from 'node:crypto'
import type { NormalizedPatch } from '../../src/schemas/patch.js'
import type { EnqueueInput } from '../../src/store/port.js'

export function plainPatch(target: string, description = 'patch'): NormalizedPatch {
  return {
    target,
    client_id: null,
    format: 'legacy_v1',
    description,
    operations: [{ op: 'replace', path: 'a.txt', find: 'a', replace: 'b' }],
    checks: [],
    commit: {},
    metadata: {},
  }
}

export const newId = (): string => `p_${randomUUID()}`

export function input(target: string, over: Partial<EnqueueInput> = {}): EnqueueInput {
  return { id: newId(), idempotencyKey: null, bodyHash: 'hash-0', patch: plainPatch(target), ...over }
}
