import type pg from 'pg'
import { qualifier } from './identifiers.js'
import type { StoreLogger } from '../logger.js'
import type { Migration } from './migration.js'
import { MIGRATIONS } from './schema.js'

// First key of the two-key advisory lock; the second is the schema's hash, so instances of
// one deployment serialise while tests on other schemas migrate in parallel.
const LOCK_NAMESPACE = 0x67687374

const ledger = (s: string) => `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`

/** Versions recorded in the schema; empty when the schema or its ledger does not exist yet. */
async function appliedVersions(db: pg.Pool | pg.PoolClient, s: string): Promise<Set<number>> {
  try {
    const res = await db.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`)
    return new Set(res.rows.map((r) => r.version))
  } catch (error) {
    // undefined_table, invalid_schema_name: nothing migrated yet.
    const code = (error as { code?: string }).code
    if (code === '42P01' || code === '3F000') return new Set()
    throw error
  }
}

/** The newest version recorded in the schema, 0 before the first migration. */
export async function schemaVersion(pool: pg.Pool, schema: string): Promise<number> {
  return Math.max(0, ...(await appliedVersions(pool, qualifier(schema))))
}

/**
 * Applies pending migrations in one transaction holding a transaction-level advisory lock:
 * instances starting at once queue on the lock, and each re-reads the ledger once it holds it,
 * so the losers find the work done. DDL is transactional, so a failed migration leaves nothing
 * half-applied. Returns the versions this call applied.
 */
export async function runMigrations(
  pool: pg.Pool,
  schema: string,
  logger?: StoreLogger,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const s = qualifier(schema)
  // Fast path: an up-to-date schema costs one read and no lock.
  const seen = await appliedVersions(pool, s)
  if (migrations.every((m) => seen.has(m.version))) return []

  const client = await pool.connect()
  let broken: unknown
  try {
    await client.query('BEGIN')
    // Waiting for another instance's migration is expected; statement_timeout is for requests.
    await client.query('SET LOCAL statement_timeout = 0')
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_NAMESPACE, schema])
    // Checked first: CREATE SCHEMA IF NOT EXISTS still demands CREATE on the database, which a
    // role given a schema prepared by its administrator may not have.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`)
    await client.query(ledger(s))
    const done = await appliedVersions(client, s)
    const applied: number[] = []
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue
      await client.query(m.sql(s))
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name])
      applied.push(m.version)
    }
    await client.query('COMMIT')
    for (const version of applied) {
      logger?.info({ schema, version, migration: migrations.find((m) => m.version === version)?.name }, 'store migration applied')
    }
    return applied
  } catch (error) {
    broken = error
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    // A client that failed mid-transaction is not trusted back into the pool.
    client.release(broken instanceof Error ? broken : undefined)
  }
}
