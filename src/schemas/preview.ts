import { Type, type Static } from '@sinclair/typebox'
import { Problem } from './problem.js'
import { PatchError } from './record.js'

export const FileStat = Type.Object(
  {
    path: Type.String({ description: 'Path in the workspace after the patch (posix separators)' }),
    status: Type.Union([Type.Literal('added'), Type.Literal('modified'), Type.Literal('deleted'), Type.Literal('renamed')]),
    from: Type.Optional(Type.String({ description: 'renamed: the path the file had before' })),
    additions: Type.Integer({ minimum: 0, description: 'Lines added' }),
    deletions: Type.Integer({ minimum: 0, description: 'Lines removed' }),
    binary: Type.Optional(Type.Literal(true, { description: 'Binary contents: no line counts and no text in the diff' })),
  },
  { title: 'PreviewFileStat', additionalProperties: false },
)
export type FileStat = Static<typeof FileStat>

export const PatchPreview = Type.Object(
  {
    target: Type.String({ description: 'The workspace the patch was previewed against' }),
    files: Type.Array(FileStat, { description: 'One entry per file the patch would change, in path order' }),
    diff: Type.String({ description: 'Unified diff of every change, at most 1 MiB' }),
    truncated: Type.Boolean({ description: 'The diff leaves files or hunks out to stay within its size or time cap; the stats still cover every file' }),
  },
  { title: 'PatchPreview', additionalProperties: false },
)
export type PatchPreview = Static<typeof PatchPreview>

/** The problem a previewed patch that would be rejected answers with: its code and the record's hints. */
export const PatchRejectionProblem = Type.Composite(
  [Problem, Type.Pick(PatchError, ['operation', 'path', 'candidates', 'regions'])],
  { title: 'PatchRejectionProblem', description: 'A problem document with the fields a rejected patch record carries in `error`' },
)
