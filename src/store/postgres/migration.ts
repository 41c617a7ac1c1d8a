// One schema step; its SQL takes the schema name the store runs in.
export interface Migration {
  version: number
  name: string
  sql: (s: string) => string
}

/** Stands for the qualified schema name in a migration written as constant text (inSchema). */
export const S = '__ghost_runner_schema__'

/** A migration's SQL from constant text naming its schema S. */
export const inSchema =
  (text: string) =>
  (s: string): string =>
    text.replaceAll(S, s)
