import { Type, type Static } from '@sinclair/typebox'

export const ProblemFieldError = Type.Object({
  pointer: Type.String({ description: 'JSON pointer into the request body (RFC 6901)' }),
  detail: Type.String(),
  code: Type.Optional(Type.String()),
}, { title: 'ProblemFieldError' })

/** RFC 9457 problem details, with a stable machine-readable `code`. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable error code; match on this, not on the title' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(ProblemFieldError)),
  },
  { title: 'Problem' },
)
export type Problem = Static<typeof Problem>
export type ProblemFieldError = Static<typeof ProblemFieldError>
