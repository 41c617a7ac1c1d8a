// One schema step, recorded by version in the database once it ran.
export interface Migration {
  version: number
  name: string
  sql: string
}
