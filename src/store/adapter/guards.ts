// The checks every adapter makes before it works: open, and on a schema this build knows.

/** What any operation on a closed store fails with. */
export const storeClosed = (): Error => new Error('store is closed')

/**
 * Throws when the stored schema is older than this build needs (the operator runs `ghost-runner
 * migrate`); tells whether it is newer, which this build tolerates. `schema` names a PostgreSQL
 * schema in the message.
 */
export function checkSchema(version: number, latest: number, schema?: string): 'current' | 'newer' {
  if (version < latest) {
    const which = schema === undefined ? 'store schema' : `store schema ${schema}`
    throw new Error(`${which} is at version ${version}, this build needs ${latest}: run \`ghost-runner migrate\``)
  }
  return version > latest ? 'newer' : 'current'
}
