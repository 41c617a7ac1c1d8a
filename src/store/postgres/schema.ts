import { inSchema, S, type Migration } from './migration.js'
import { LIST_ORDER_MIGRATION } from './list.js'
import { RETENTION_MIGRATION } from './retention.js'
import { TOTALS_MIGRATION } from './totals.js'

const PATCH_QUEUE = `
      -- One row per target: what a claim locks (FOR NO KEY UPDATE SKIP LOCKED), so two runners
      -- never work one lane, and what counts() lists. COLLATE "C": targets sort as bytes.
      CREATE TABLE ${S}.lanes (
        target text COLLATE "C" PRIMARY KEY
      );

      -- The lane's numbering, on a row of its own: enqueue takes lane_seq under this row's lock,
      -- held to commit, so FIFO order within a lane is commit order across every gateway. Were
      -- it the row claims lock, a steady stream of enqueues would keep the lane locked and its
      -- runner would skip it nearly every time.
      CREATE TABLE ${S}.lane_tails (
        target   text COLLATE "C" PRIMARY KEY,
        next_seq bigint NOT NULL
      );

      -- Global creation order (list order, cursors, which lane's head is oldest) and fencing
      -- tokens. Sequences never hand out a value twice, whichever instance asks.
      CREATE SEQUENCE ${S}.patch_seq AS bigint;
      CREATE SEQUENCE ${S}.lease_token_seq AS bigint;

      -- json, not jsonb: it keeps the exact text, and jsonb refuses \\u0000, which file contents
      -- and check output may carry.
      CREATE TABLE ${S}.patches (
        id               text COLLATE "C" PRIMARY KEY,
        seq              bigint NOT NULL UNIQUE,
        target           text COLLATE "C" NOT NULL REFERENCES ${S}.lanes (target),
        lane_seq         bigint NOT NULL,
        status           text NOT NULL CHECK (status IN ('queued', 'running', 'applied', 'failed', 'rejected', 'cancelled')),
        client_id        text,
        format           text NOT NULL,
        description      text NOT NULL,
        idempotency_key  text UNIQUE,
        body_hash        text NOT NULL,
        patch            json NOT NULL,
        attempts         integer NOT NULL DEFAULT 0,
        lease_token      bigint,
        lease_owner      text,
        lease_expires_at timestamptz,
        result           json,
        error            json,
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        started_at       timestamptz,
        finished_at      timestamptz,
        UNIQUE (target, lane_seq)
      );

      -- The database itself refuses a second running patch in a lane, whatever the code does.
      CREATE UNIQUE INDEX patches_one_running ON ${S}.patches (target) WHERE status = 'running';
      -- Head of a lane: its lowest unfinished lane_seq, without walking the lane's history.
      CREATE INDEX patches_lane_head ON ${S}.patches (target, lane_seq) WHERE status IN ('queued', 'running');
      CREATE INDEX patches_lease ON ${S}.patches (lease_expires_at) WHERE status = 'running';
      CREATE INDEX patches_by_status ON ${S}.patches (status, seq);
      CREATE INDEX patches_by_target ON ${S}.patches (target, seq);

      -- Transitions of one patch are serialised by its row lock, so the identity orders them.
      CREATE TABLE ${S}.events (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        patch_id text COLLATE "C" NOT NULL REFERENCES ${S}.patches (id) ON DELETE CASCADE,
        at       timestamptz NOT NULL,
        status   text NOT NULL,
        reason   text NOT NULL,
        detail   text
      );
      CREATE INDEX events_by_patch ON ${S}.events (patch_id, id);

      -- Heartbeats live in the shared database so every gateway reports the same runners.
      CREATE TABLE ${S}.runners (
        id         text COLLATE "C" PRIMARY KEY,
        host       text NOT NULL,
        pid        integer NOT NULL,
        started_at timestamptz NOT NULL,
        last_seen  timestamptz NOT NULL,
        info       json NOT NULL
      );

      -- ping() writes here: a committed write proves more than a SELECT 1.
      CREATE TABLE ${S}.pings (
        name text PRIMARY KEY,
        at   timestamptz NOT NULL
      );
    `

const NOTIFICATION_OUTBOX = `
      -- One row per status change and configured destination, inserted by the statement that
      -- made the change, so a notification is never lost between the change and its sending.
      -- A pending row is due at next_attempt_at; a claim (SKIP LOCKED) moves that to the end of
      -- its lease, so gateways sharing the outbox send each delivery from one place at a time.
      CREATE TABLE ${S}.deliveries (
        seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              text COLLATE "C" NOT NULL UNIQUE,
        patch_id        text COLLATE "C" NOT NULL REFERENCES ${S}.patches (id) ON DELETE CASCADE,
        url             text NOT NULL,
        event           text NOT NULL,
        reason          text NOT NULL,
        detail          text,
        at              timestamptz NOT NULL,
        state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        lease_owner     text,
        last_status     integer,
        last_error      text,
        created_at      timestamptz NOT NULL,
        updated_at      timestamptz NOT NULL
      );

      CREATE INDEX deliveries_due ON ${S}.deliveries (next_attempt_at) WHERE state = 'pending';
      -- The deliveries of a patch, and per destination the earlier ones still pending.
      CREATE INDEX deliveries_by_patch ON ${S}.deliveries (patch_id, url, seq);
    `

const CREDENTIAL_NAMES = `
      -- Which credential submitted and which cancelled each patch (names, never values); null
      -- for patches stored before names were recorded.
      ALTER TABLE ${S}.patches ADD COLUMN submitted_by text, ADD COLUMN cancelled_by text;
      -- Lists narrowed to one credential's own patches page through this, newest first.
      CREATE INDEX patches_by_submitter ON ${S}.patches (submitted_by, seq);
    `

const LZ4_PAYLOADS = `
      -- A patch's JSON (a few KB) is compressed as it is stored; the default method, pglz, was a
      -- tenth of the server's time under webhook load. lz4 does it several times faster. Rows
      -- stored before keep pglz, and both read back the same. A server built without lz4 (or
      -- older than PostgreSQL 14) keeps pglz.
      DO $$
      BEGIN
        EXECUTE 'ALTER TABLE ${S}.patches ALTER COLUMN patch SET COMPRESSION lz4, ALTER COLUMN result SET COMPRESSION lz4';
      EXCEPTION WHEN feature_not_supported OR syntax_error THEN
        NULL;
      END
      $$;
    `

const NO_ROW_BY_ROW_KEY_CHECKS = `
      -- Every statement that writes a patch or an event also writes what it refers to, in the same
      -- statement: an enqueue writes its lane (lanes are never deleted), and each event
      -- comes from the RETURNING of the statement that inserted or moved its patch, under that
      -- row's lock. The two foreign keys only repeated that, one query and one row lock per row
      -- (a KEY SHARE lock on each patch an enqueue had just inserted, a WAL record apiece): an
      -- eighth of a batch of enqueues. Retention deletes a patch's events itself (retention.ts).
      -- Deliveries keep theirs: they are written only for subscribed statuses.
      ALTER TABLE ${S}.patches DROP CONSTRAINT patches_target_fkey;
      ALTER TABLE ${S}.events DROP CONSTRAINT events_patch_id_fkey;
    `

/**
 * Versioned schema, written for a qualified schema name (`s`, or S in constant text). A migration is never edited once
 * released: append a new one instead, because deployed databases record which versions ran.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'patch queue',
    sql: inSchema(PATCH_QUEUE),
  },
  {
    version: 2,
    name: 'notification outbox',
    sql: inSchema(NOTIFICATION_OUTBOX),
  },
  {
    version: 3,
    name: 'credential names on patches',
    sql: inSchema(CREDENTIAL_NAMES),
  },
  TOTALS_MIGRATION,
  RETENTION_MIGRATION,
  LIST_ORDER_MIGRATION,
  {
    version: 7,
    name: 'lz4 for patch payloads',
    sql: inSchema(LZ4_PAYLOADS),
  },
  {
    version: 8,
    name: 'no row-by-row key checks on enqueue',
    sql: inSchema(NO_ROW_BY_ROW_KEY_CHECKS),
  },
]

export const LATEST_VERSION = Math.max(0, ...MIGRATIONS.map((m) => m.version))
