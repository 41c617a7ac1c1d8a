import type { PatchSummary } from '../schemas/record.js'
import type { Principal, Reach } from './principal.js'

/**
 * The authorization rules, in one place for every route, tool and stream. A patch is judged by
 * two things that never change once it is stored: its target and the name that submitted it,
 * so a check made before an operation still holds when the operation runs.
 */

/** A right a route needs before it looks at anything: `read` and `cancel` at any reach. */
export type Right = 'dispatch' | 'read' | 'cancel' | 'metrics'

export function hasRight(p: Principal, right: Right): boolean {
  const value = p.rights[right]
  return value === true || value === 'own' || value === 'all'
}

/** Whether the credential may touch workspace `target` at all. */
export const canTarget = (p: Principal, target: string): boolean => p.workspaces === '*' || p.workspaces.includes(target)

type Owned = Pick<PatchSummary, 'target' | 'submitted_by'>

const reaches = (p: Principal, reach: Reach, patch: Owned): boolean =>
  canTarget(p, patch.target) && (reach === 'all' || (reach === 'own' && patch.submitted_by === p.name))

/** Whether the patch exists for this caller; one it may not read answers 404, like an unknown id. */
export const canRead = (p: Principal, patch: Owned): boolean => reaches(p, p.rights.read, patch)

export const canCancel = (p: Principal, patch: Owned): boolean => reaches(p, p.rights.cancel, patch)

/** What a list must be narrowed to, in the store's query, so that pages stay full and cursors exact. */
export function readFilter(p: Principal): { targets?: string[]; submittedBy?: string } {
  return {
    ...(p.workspaces === '*' ? {} : { targets: p.workspaces }),
    ...(p.rights.read === 'all' ? {} : { submittedBy: p.name }),
  }
}
