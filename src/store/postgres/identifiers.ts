import pg from 'pg'

// Table names are qualified with the schema in the SQL text rather than relying on a
// search_path startup option, which an `options` parameter in the connection string would
// silently replace. The name is spliced into SQL, so it is restricted to plain identifiers;
// 55 characters leave room for the `_patches` and `_changes` channel names within Postgres' 63.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,54}$/

export const DEFAULT_SCHEMA = 'ghost_runner'

/** Validates a schema name and returns it quoted for SQL text. */
export function qualifier(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new RangeError(`postgres schema must match ${SCHEMA_NAME.source}: ${JSON.stringify(schema)}`)
  }
  return pg.escapeIdentifier(schema)
}

/**
 * The NOTIFY channel of a schema: `ghost_runner_patches` for the default one. Per schema, so
 * deployments (or test runs) sharing a database do not wake each other's runners.
 */
export function patchChannel(schema: string): string {
  qualifier(schema)
  return `${schema}_patches`
}

/**
 * The NOTIFY channel on which every status change of a patch is announced with the patch's id
 * (`ghost_runner_changes`): what event streams on every gateway follow.
 */
export function changeChannel(schema: string): string {
  qualifier(schema)
  return `${schema}_changes`
}
