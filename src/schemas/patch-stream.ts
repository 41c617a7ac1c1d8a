import { Type, type Static } from '@sinclair/typebox'
import { PatchEvent } from './record.js'

/** The `data` of each `status` event: one audit-trail row, with the patch it belongs to. */
export const PatchStreamEvent = Type.Composite(
  [
    Type.Object({
      id: Type.String({ description: 'Patch id' }),
      target: Type.String(),
      seq: Type.Integer({ minimum: 1, description: 'Position in the patch history; also the SSE event id' }),
    }),
    PatchEvent,
  ],
  { title: 'PatchStreamEvent' },
)
export type PatchStreamEvent = Static<typeof PatchStreamEvent>

/**
 * One message of the stream, with the fields of the SSE format. As the OpenAPI media type
 * registry models `text/event-stream` for OpenAPI 3.1, the response schema is the array of them.
 */
export const PatchStreamMessage = Type.Object(
  {
    event: Type.Literal('status'),
    id: Type.String({ pattern: '^[0-9]+$', description: 'The event `seq`; send the last one back as Last-Event-ID to resume' }),
    data: Type.String({ contentMediaType: 'application/json', contentSchema: PatchStreamEvent, description: 'A PatchStreamEvent, as JSON' }),
  },
  { title: 'PatchStreamMessage' },
)
