import { isAbsolute, relative, sep } from 'node:path'
import type { Config, WorkspaceConfig } from '../config.js'
import type { LegacyV1Patch, LegacyV2Patch, NativePatch, NormalizedPatch, Operation, PatchFormat, PatchPayload } from '../schemas/patch.js'
import type { PatchFieldError } from '../errors.js'
import { checkRelativePath } from '../runner/workspace/paths.js'
import { tagNameProblem } from '../runner/workspace/tag-name.js'
import { headerPaths } from './header-paths.js'

export const DEFAULT_TARGET = 'default'

type Result = { patch: NormalizedPatch } | { errors: PatchFieldError[] }

/** The workspace a valid payload targets, before anything else about it is looked at (legacy v1 names none). */
export const targetOf = (format: PatchFormat, payload: PatchPayload): string =>
  format === 'legacy_v1' ? DEFAULT_TARGET : (payload as NativePatch | LegacyV2Patch).target

/**
 * Turns any accepted payload into the one shape the store keeps and the runner executes, and
 * checks what the schema cannot: the target exists, every path stays inside it, every check
 * and legacy shell command is allowed by the workspace, regexes compile, tags are valid refs.
 * Payload text is never executed: a legacy `shell[]` entry becomes the name of the allowed
 * check whose argv, joined by spaces, equals it.
 */
export function normalize(format: PatchFormat, payload: PatchPayload, config: Config): Result {
  const errors: PatchFieldError[] = []
  const patch =
    format === 'native'
      ? fromNative(payload as NativePatch)
      : format === 'legacy_v1'
        ? fromV1(payload as LegacyV1Patch)
        : fromV2(payload as LegacyV2Patch, config, errors)
  const ws = workspaceNamed(config, patch.target)
  if (!ws) {
    errors.unshift({ pointer: format === 'legacy_v1' ? '' : '/target', code: 'UNKNOWN_TARGET', detail: `No workspace named "${patch.target}"` })
    return { errors }
  }
  patch.operations = patch.operations.map((op, i) => confine(op, ws, format, i, errors))
  for (const [i, name] of patch.checks.entries()) {
    if (format !== 'legacy_v2' && !Object.hasOwn(ws.checks, name)) {
      errors.push({ pointer: `/checks/${i}`, code: 'CHECK_NOT_ALLOWED', detail: `Workspace "${patch.target}" allows no check named "${name}"` })
    }
  }
  patch.operations.forEach((op, i) => checkOperation(op, opPointer(format, i), errors))
  // The runner's own rule on the full name, so a tag it would refuse is refused here, before
  // anything is stored; the runner checks again against every branch the repository has.
  const tag = patch.commit.tag
  const tagReason = tag === undefined ? null : tagNameProblem(`${ws.tagPrefix}${tag}`, [ws.branch])
  if (tagReason !== null) {
    errors.push({ pointer: format === 'legacy_v2' ? '/final/git/tag' : '/commit/tag', code: 'INVALID_TAG', detail: `Not a valid tag name: ${tagReason}` })
  }
  return errors.length > 0 ? { errors } : { patch }
}

function fromNative(p: NativePatch): NormalizedPatch {
  return {
    target: p.target,
    client_id: p.id ?? null,
    format: 'native',
    description: p.description ?? '',
    operations: p.operations,
    checks: p.checks ?? [],
    commit: { ...(p.commit?.message !== undefined && { message: p.commit.message }), ...(p.commit?.tag !== undefined && { tag: p.commit.tag }) },
    metadata: p.metadata ?? {},
  }
}

function fromV1(p: LegacyV1Patch): NormalizedPatch {
  return {
    target: DEFAULT_TARGET,
    client_id: p.id,
    format: 'legacy_v1',
    description: p.description ?? '',
    operations: [{ op: 'replace', path: p.target_file, find: p.patch.pattern, replace: p.patch.replacement, regex: true }],
    checks: [],
    commit: {},
    metadata: { ...(p.metadata ?? {}), role: p.role },
  }
}

// Own keys only: a target named "constructor" or "toString" must not find Object.prototype's.
const workspaceNamed = (config: Config, name: string) => (Object.hasOwn(config.workspaces, name) ? config.workspaces[name] : undefined)

function fromV2(p: LegacyV2Patch, config: Config, errors: PatchFieldError[]): NormalizedPatch {
  const ws = workspaceNamed(config, p.target)
  const checks: string[] = []
  const commands = [
    ...p.postMutationBuild.shell.map((c, i) => [c, `/postMutationBuild/shell/${i}`] as const),
    ...p.validate.shell.map((c, i) => [c, `/validate/shell/${i}`] as const),
  ]
  for (const [command, pointer] of commands) {
    const name = ws && Object.entries(ws.checks).find(([, argv]) => argv.join(' ') === command.trim())?.[0]
    if (name === undefined) {
      if (ws) errors.push({ pointer, code: 'COMMAND_NOT_ALLOWED', detail: 'Not a command this workspace allows; shell text is never run' })
    } else if (!checks.includes(name)) checks.push(name)
  }
  const git = p.final?.git
  return {
    target: p.target,
    client_id: p.blockId,
    format: 'legacy_v2',
    description: p.description,
    operations: p.mutations.map((m): Operation => {
      if (m.insertAfter !== undefined) return { op: 'insert', path: m.path, contents: m.contents, after: m.insertAfter }
      if (m.insertBefore !== undefined) return { op: 'insert', path: m.path, contents: m.contents, before: m.insertBefore }
      return { op: 'write', path: m.path, contents: m.contents }
    }),
    checks,
    commit: { ...(git?.commit && { message: git.commit }), ...(git?.tag && { tag: git.tag }) },
    metadata: { ...(p.metadata ?? {}), version: p.version },
  }
}

const opPointer = (format: PatchFormat, i: number) =>
  format === 'native' ? `/operations/${i}` : format === 'legacy_v2' ? `/mutations/${i}` : ''

/** Legacy payloads used absolute paths; those inside the workspace become relative, others are refused. */
function confine(op: Operation, ws: WorkspaceConfig, format: PatchFormat, i: number, errors: PatchFieldError[]): Operation {
  const fix = (p: string, field: string): string => {
    let rel = p
    if (format !== 'native' && isAbsolute(p)) {
      const r = relative(ws.path, p)
      if (r !== '' && !r.startsWith('..') && !isAbsolute(r)) rel = r.split(sep).join('/')
    }
    const reason = checkRelativePath(rel)
    if (reason) {
      const pointer = format === 'legacy_v1' ? '/target_file' : `${opPointer(format, i)}/${field}`
      errors.push({ pointer, code: 'PATH_NOT_ALLOWED', detail: reason })
    }
    return rel
  }
  switch (op.op) {
    case 'rename':
      return { ...op, from: fix(op.from, 'from'), to: fix(op.to, 'to') }
    case 'diff':
    case 'apply_patch':
      for (const p of headerPaths(op)) {
        const reason = checkRelativePath(p)
        if (reason) errors.push({ pointer: `${opPointer(format, i)}/${op.op === 'diff' ? 'diff' : 'patch'}`, code: 'PATH_NOT_ALLOWED', detail: `${JSON.stringify(p)}: ${reason}` })
      }
      return op
    default:
      return { ...op, path: fix(op.path, 'path') }
  }
}

function checkOperation(op: Operation, pointer: string, errors: PatchFieldError[]) {
  if (op.op === 'replace' && op.regex) {
    try {
      new RegExp(op.find, 'g')
    } catch (err) {
      errors.push({ pointer: pointer ? `${pointer}/find` : '/patch/pattern', code: 'INVALID_REGEX', detail: (err as Error).message })
    }
  }
  if (op.op === 'insert' && (op.before === undefined) === (op.after === undefined)) {
    errors.push({ pointer, code: 'INVALID_ANCHOR', detail: 'Give exactly one of `before` and `after`' })
  }
  if (op.op === 'apply_patch' && !/^\s*\*\*\* Begin Patch/.test(op.patch)) {
    errors.push({ pointer: `${pointer}/patch`, code: 'PATCH_PARSE_ERROR', detail: 'A V4A patch starts with "*** Begin Patch"' })
  }
}
