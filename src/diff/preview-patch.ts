import type { Config } from '../config.js'
import { Errors, withExtra } from '../errors.js'
import type { NormalizedPatch } from '../schemas/patch.js'
import type { PatchPreview } from '../schemas/preview.js'
import { planLimits, previewInWorker, RejectError } from '../runner/operations/index.js'
import { findRepository } from './commit-diff.js'

/** The catalog error a previewed patch's rejection answers with: its own code, its hints. */
function asProblem(err: RejectError): Error {
  const { code, message, operation, path, candidates, regions, detail } = err.toPatchError()
  const make = Errors[code as keyof typeof Errors]
  return withExtra(new make(message), {
    ...(detail !== undefined && { detail }),
    hints: { ...(operation !== undefined && { operation }), ...(path !== undefined && { path }), ...(candidates && { candidates }), ...(regions && { regions }) },
  })
}

/**
 * What `patch` would do to its workspace's work tree as it stands: planned in a planner process
 * under the workspace's limits, exactly as the runner plans it, and diffed there too (the diff of
 * files a patch chose can take seconds), but nothing is queued, written, committed or checked.
 * A server that does not hold the workspace repository answers 409 WORKSPACE_UNAVAILABLE; a
 * patch that would be rejected, 422 with the rejection's code.
 */
export async function previewPatch(config: Config, patch: NormalizedPatch): Promise<PatchPreview> {
  const ws = config.workspaces[patch.target]!
  const repo = await findRepository(ws)
  if (repo === null) throw new Errors.WORKSPACE_UNAVAILABLE(patch.target, 'this server does not hold its repository')
  try {
    return await previewInWorker(repo.root, patch.target, patch.operations, planLimits(config, ws))
  } catch (err) {
    throw err instanceof RejectError ? asProblem(err) : err
  }
}
