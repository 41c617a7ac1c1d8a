// Shared by the PostgreSQL store tests: a fresh random schema per store, dropped when the file ends.
import { randomBytes } from 'node:crypto'
import { after } from 'node:test'
import pg from 'pg'
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions, type StoreLogger } from '../../src/store/postgres/index.js'
import type { PatchResult } from '../../src/schemas/record.js'

export const DATABASE_URL = process.env.DATABASE_URL
export const SKIP = DATABASE_URL ? false : 'DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test): PostgreSQL store tests skipped'

export const RESULT: PatchResult = { commit: null, tag: null, files: [], checks: [], durations_ms: {} }

/** A node of an `EXPLAIN (FORMAT JSON)` plan, with what the tests look at. */
export interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Rows Removed by Filter'?: number
  Plans?: PlanNode[]
}

/** Every node of a plan, the root first. */
export const planNodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(planNodes)]

const schemas = new Set<string>()

/** A schema name no other test uses; dropped with everything in it after the test file. */
export function freshSchema(): string {
  const schema = `gr_test_${randomBytes(6).toString('hex')}`
  schemas.add(schema)
  return schema
}

/** The application_name of a schema's connections, so a test can find (and kill) exactly them. */
export const appName = (schema: string) => `ghost-runner-test:${schema}`

export function openTestStore(schema = freshSchema(), over: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  if (!DATABASE_URL) throw new Error('DATABASE_URL is not set')
  return openPostgresStore({ connectionString: DATABASE_URL, schema, applicationName: appName(schema), poolSize: 4, ...over })
}

/** A plain client for looking behind the store's back; ended after the test file. */
export async function admin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  after(() => client.end())
  return client
}

/** Kills every backend of a schema's stores, as an administrator or a failover would. */
export async function terminateBackends(db: pg.Client, schema: string, where = 'true'): Promise<number> {
  const res = await db.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() AND ${where}`,
    [appName(schema)],
  )
  return res.rowCount ?? 0
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export function recorder() {
  const lines: { level: string; obj: unknown; msg: string | undefined }[] = []
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj, msg })
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } as unknown as StoreLogger
  return { logger, lines }
}

after(async () => {
  if (!DATABASE_URL || schemas.size === 0) return
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
})
