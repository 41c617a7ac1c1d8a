import type { Migration } from './migration.js'
import { RETENTION_MIGRATION } from './retention.js'
import { TOTALS_MIGRATION } from './totals.js'

/**
 * Versioned schema. A migration is never edited once released: append a new one instead,
 * because deployed files record which versions they already ran.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'patch queue',
    sql: `
      -- One row per target: hands out lane_seq inside the enqueue transaction, so FIFO order
      -- within a lane is the commit order even with several writers.
      CREATE TABLE lanes (
        target   TEXT PRIMARY KEY,
        next_seq INTEGER NOT NULL
      ) STRICT;

      -- Named monotonic counters: the global creation order and the fencing token.
      CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE patches (
        id               TEXT PRIMARY KEY,
        seq              INTEGER NOT NULL UNIQUE,
        target           TEXT NOT NULL REFERENCES lanes(target),
        lane_seq         INTEGER NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('queued','running','applied','failed','rejected','cancelled')),
        client_id        TEXT,
        format           TEXT NOT NULL,
        description      TEXT NOT NULL,
        idempotency_key  TEXT UNIQUE,
        body_hash        TEXT NOT NULL,
        payload          TEXT NOT NULL CHECK (json_valid(payload)),
        attempts         INTEGER NOT NULL DEFAULT 0,
        lease_token      INTEGER,
        lease_owner      TEXT,
        lease_expires_at INTEGER,
        result           TEXT CHECK (result IS NULL OR json_valid(result)),
        error            TEXT CHECK (error IS NULL OR json_valid(error)),
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER,
        UNIQUE (target, lane_seq)
      ) STRICT;

      -- The database itself refuses a second running patch in a lane, whatever the code does.
      CREATE UNIQUE INDEX patches_one_running ON patches (target) WHERE status = 'running';
      -- Head-of-lane lookup: min(lane_seq) over the unfinished patches of a target.
      CREATE INDEX patches_lane_head ON patches (target, lane_seq) WHERE status IN ('queued','running');
      CREATE INDEX patches_lease ON patches (lease_expires_at) WHERE status = 'running';
      CREATE INDEX patches_by_status ON patches (status, seq);
      CREATE INDEX patches_by_target ON patches (target, seq);

      CREATE TABLE events (
        patch_id TEXT NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        at       INTEGER NOT NULL,
        status   TEXT NOT NULL,
        reason   TEXT NOT NULL,
        detail   TEXT,
        PRIMARY KEY (patch_id, seq)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE runners (
        id         TEXT PRIMARY KEY,
        host       TEXT NOT NULL,
        pid        INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        info       TEXT NOT NULL CHECK (json_valid(info))
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'notification outbox',
    sql: `
      -- One row per status change and configured destination, written in the transaction that
      -- made the change, so a notification is never lost between the change and its sending.
      -- A pending row is due at next_attempt_at; a claim moves that to the end of its lease.
      CREATE TABLE deliveries (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        patch_id        TEXT NOT NULL REFERENCES patches(id) ON DELETE CASCADE,
        url             TEXT NOT NULL,
        event           TEXT NOT NULL,
        reason          TEXT NOT NULL,
        detail          TEXT,
        at              INTEGER NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        lease_owner     TEXT,
        last_status     INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
      ) STRICT;

      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
      -- The deliveries of a patch, and per destination the earlier ones still pending.
      CREATE INDEX deliveries_by_patch ON deliveries (patch_id, url, seq);
    `,
  },
  {
    version: 3,
    name: 'credential names on patches',
    sql: `
      -- Which credential submitted and which cancelled each patch (names, never values); null
      -- for patches stored before names were recorded.
      ALTER TABLE patches ADD COLUMN submitted_by TEXT;
      ALTER TABLE patches ADD COLUMN cancelled_by TEXT;
      -- Lists narrowed to one credential's own patches page through this, newest first.
      CREATE INDEX patches_by_submitter ON patches (submitted_by, seq);
    `,
  },
  TOTALS_MIGRATION,
  RETENTION_MIGRATION,
]

export const LATEST_VERSION = Math.max(0, ...MIGRATIONS.map((m) => m.version))
