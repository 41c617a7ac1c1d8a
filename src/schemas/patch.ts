import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { LIMITS } from './limits.js'

// Paths are relative to the workspace root; confinement (.., NUL, .git, symlinks) is checked
// semantically at the door and again by the runner against the real tree.
const Path = Type.String({ minLength: 1, maxLength: LIMITS.pathLength, description: 'Path relative to the workspace root' })
const FileText = Type.String({ maxLength: LIMITS.fileBytes })
const Short = Type.String({ maxLength: LIMITS.textShort })

const op = <T extends string>(name: T) => Type.Literal(name, { description: 'Operation kind' })
const closed = { additionalProperties: false } as const

export const WriteOp = Type.Object(
  { op: op('write'), path: Path, contents: FileText },
  { ...closed, title: 'WriteOp', description: 'Create or overwrite a file with the given contents.' },
)
export const ReplaceOp = Type.Object(
  {
    op: op('replace'),
    path: Path,
    find: Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 }),
    replace: Type.String({ maxLength: LIMITS.fileBytes }),
    regex: Type.Optional(Type.Boolean({ description: 'Treat `find` as a regular expression (JavaScript syntax, no flags but global).' })),
    count: Type.Optional(Type.Integer({ minimum: 1, description: 'Exact number of matches expected; the patch is rejected otherwise.' })),
  },
  { ...closed, title: 'ReplaceOp', description: 'Replace text in a file; all matches unless `count` says how many must exist.' },
)
export const InsertOp = Type.Object(
  {
    op: op('insert'),
    path: Path,
    contents: FileText,
    before: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 })),
  },
  { ...closed, title: 'InsertOp', description: 'Insert text before or after an anchor that must occur exactly once. Give exactly one of `before` and `after`.' },
)
export const DeleteOp = Type.Object({ op: op('delete'), path: Path }, { ...closed, title: 'DeleteOp', description: 'Delete a file.' })
export const RenameOp = Type.Object(
  { op: op('rename'), from: Path, to: Path },
  { ...closed, title: 'RenameOp', description: 'Rename a file; the destination must not exist.' },
)
export const DiffOp = Type.Object(
  { op: op('diff'), diff: Type.String({ minLength: 1, maxLength: LIMITS.diffBytes }) },
  { ...closed, title: 'DiffOp', description: 'A unified diff in git style; may touch several files, create, delete and rename them.' },
)
export const ApplyPatchOp = Type.Object(
  { op: op('apply_patch'), patch: Type.String({ minLength: 1, maxLength: LIMITS.diffBytes }) },
  { ...closed, title: 'ApplyPatchOp', description: 'A V4A patch (`*** Begin Patch` … `*** End Patch`).' },
)

/** Operation kinds by their `op` value; validation dispatches on it for precise errors. */
export const OperationKinds = {
  write: WriteOp,
  replace: ReplaceOp,
  insert: InsertOp,
  delete: DeleteOp,
  rename: RenameOp,
  diff: DiffOp,
  apply_patch: ApplyPatchOp,
} as const satisfies Record<string, TSchema>

export const Operation = Type.Union(Object.values(OperationKinds), { title: 'Operation' })
export type Operation = Static<typeof Operation>

const CheckName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' })
const Metadata = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), { maxProperties: LIMITS.metadataKeys })
const CommitSpec = Type.Object(
  {
    message: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.textShort * 4 })),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  closed,
)
const ClientId = Type.String({ minLength: 1, maxLength: 200 })
const Target = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'Workspace name' })

export const NativePatch = Type.Object(
  {
    id: Type.Optional(ClientId),
    target: Target,
    description: Type.Optional(Short),
    operations: Type.Array(Operation, { minItems: 1, maxItems: LIMITS.operations }),
    checks: Type.Optional(Type.Array(CheckName, { maxItems: LIMITS.checks, uniqueItems: true })),
    commit: Type.Optional(CommitSpec),
    metadata: Type.Optional(Metadata),
  },
  { ...closed, title: 'NativePatch' },
)
export type NativePatch = Static<typeof NativePatch>

export const LegacyV1Patch = Type.Object(
  {
    id: ClientId,
    role: Type.String({ maxLength: 200 }),
    target_file: Path,
    patch: Type.Object({ pattern: Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 }), replacement: Type.String({ maxLength: LIMITS.fileBytes }) }, closed),
    description: Type.Optional(Short),
    metadata: Type.Optional(Metadata),
  },
  { ...closed, title: 'LegacyV1Patch', description: 'First-generation payload: one regex replacement in one file of the `default` workspace.' },
)
export type LegacyV1Patch = Static<typeof LegacyV1Patch>

const Shell = Type.Object({ shell: Type.Array(Type.String({ maxLength: 1000 }), { maxItems: LIMITS.checks }) })
export const LegacyV2Patch = Type.Object(
  {
    blockId: ClientId,
    description: Short,
    target: Target,
    version: Type.Union([Type.String({ maxLength: 64 }), Type.Number()]),
    mutations: Type.Array(
      Type.Object(
        {
          path: Path,
          contents: FileText,
          insertAfter: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 })),
          insertBefore: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.textShort * 16 })),
        },
        closed,
      ),
      { minItems: 1, maxItems: LIMITS.operations },
    ),
    preMutationValidation: Type.Optional(Type.Unknown({ description: 'Accepted for compatibility and ignored.' })),
    postMutationBuild: Shell,
    validate: Shell,
    final: Type.Optional(Type.Object({ git: Type.Optional(Type.Object({ commit: Type.Optional(Type.String({ maxLength: LIMITS.textShort * 4 })), tag: Type.Optional(Type.String({ maxLength: 200 })) })) })),
    metadata: Type.Optional(Metadata),
  },
  { title: 'LegacyV2Patch', description: 'Second-generation payload; `shell[]` entries run only when they equal an allowed check of the workspace.' },
)
export type LegacyV2Patch = Static<typeof LegacyV2Patch>

export const PatchPayload = Type.Union([NativePatch, LegacyV1Patch, LegacyV2Patch], {
  title: 'PatchPayload',
  description:
    'A native patch or a legacy payload. The server picks the format by its distinguishing key (`operations`: native; `blockId` or `mutations`: legacy v2; `target_file` or `patch`: legacy v1) and reports errors against that format only.',
})
export type PatchPayload = Static<typeof PatchPayload>

export const PatchFormat = Type.Union([Type.Literal('native'), Type.Literal('legacy_v1'), Type.Literal('legacy_v2')], {
  title: 'PatchFormat',
  description: 'The payload format the patch arrived in',
})
export type PatchFormat = Static<typeof PatchFormat>

/** What the store keeps and the runner executes: every format normalised to this. */
export const NormalizedPatch = Type.Object({
  target: Type.String(),
  client_id: Type.Union([Type.String(), Type.Null()]),
  format: PatchFormat,
  description: Type.String(),
  operations: Type.Array(Operation),
  checks: Type.Array(Type.String()),
  commit: Type.Object({ message: Type.Optional(Type.String()), tag: Type.Optional(Type.String()) }),
  metadata: Type.Record(Type.String(), Type.Unknown()),
}, { title: 'NormalizedPatch', description: 'The patch as stored and run, whatever format it arrived in' })
export type NormalizedPatch = Static<typeof NormalizedPatch>
