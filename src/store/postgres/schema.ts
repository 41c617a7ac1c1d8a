/**
 * Versioned schema, written for a qualified schema name `s`. A migration is never edited once
 * released: append a new one instead, because deployed databases record which versions ran.
 */
export interface Migration {
  version: number
  name: string
  sql: (s: string) => string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'patch queue',
    sql: (s) => `
      -- One row per target: what a claim locks (FOR NO KEY UPDATE SKIP LOCKED), so two runners
      -- never work one lane, and what counts() lists. COLLATE "C": targets sort as bytes.
      CREATE TABLE ${s}.lanes (
        target text COLLATE "C" PRIMARY KEY
      );

      -- The lane's numbering, on a row of its own: enqueue takes lane_seq under this row's lock,
      -- held to commit, so FIFO order within a lane is commit order across every gateway. Were
      -- it the row claims lock, a steady stream of enqueues would keep the lane locked and its
      -- runner would skip it nearly every time.
      CREATE TABLE ${s}.lane_tails (
        target   text COLLATE "C" PRIMARY KEY,
        next_seq bigint NOT NULL
      );

      -- Global creation order (list order, cursors, which lane's head is oldest) and fencing
      -- tokens. Sequences never hand out a value twice, whichever instance asks.
      CREATE SEQUENCE ${s}.patch_seq AS bigint;
      CREATE SEQUENCE ${s}.lease_token_seq AS bigint;

      -- json, not jsonb: it keeps the exact text, and jsonb refuses \\u0000, which file contents
      -- and check output may carry.
      CREATE TABLE ${s}.patches (
        id               text COLLATE "C" PRIMARY KEY,
        seq              bigint NOT NULL UNIQUE,
        target           text COLLATE "C" NOT NULL REFERENCES ${s}.lanes (target),
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
      CREATE UNIQUE INDEX patches_one_running ON ${s}.patches (target) WHERE status = 'running';
      -- Head of a lane: its lowest unfinished lane_seq, without walking the lane's history.
      CREATE INDEX patches_lane_head ON ${s}.patches (target, lane_seq) WHERE status IN ('queued', 'running');
      CREATE INDEX patches_lease ON ${s}.patches (lease_expires_at) WHERE status = 'running';
      CREATE INDEX patches_by_status ON ${s}.patches (status, seq);
      CREATE INDEX patches_by_target ON ${s}.patches (target, seq);

      -- Transitions of one patch are serialised by its row lock, so the identity orders them.
      CREATE TABLE ${s}.events (
        id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        patch_id text COLLATE "C" NOT NULL REFERENCES ${s}.patches (id) ON DELETE CASCADE,
        at       timestamptz NOT NULL,
        status   text NOT NULL,
        reason   text NOT NULL,
        detail   text
      );
      CREATE INDEX events_by_patch ON ${s}.events (patch_id, id);

      -- Heartbeats live in the shared database so every gateway reports the same runners.
      CREATE TABLE ${s}.runners (
        id         text COLLATE "C" PRIMARY KEY,
        host       text NOT NULL,
        pid        integer NOT NULL,
        started_at timestamptz NOT NULL,
        last_seen  timestamptz NOT NULL,
        info       json NOT NULL
      );

      -- ping() writes here: a committed write proves more than a SELECT 1.
      CREATE TABLE ${s}.pings (
        name text PRIMARY KEY,
        at   timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'notification outbox',
    sql: (s) => `
      -- One row per status change and configured destination, inserted by the statement that
      -- made the change, so a notification is never lost between the change and its sending.
      -- A pending row is due at next_attempt_at; a claim (SKIP LOCKED) moves that to the end of
      -- its lease, so gateways sharing the outbox send each delivery from one place at a time.
      CREATE TABLE ${s}.deliveries (
        seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              text COLLATE "C" NOT NULL UNIQUE,
        patch_id        text COLLATE "C" NOT NULL REFERENCES ${s}.patches (id) ON DELETE CASCADE,
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

      CREATE INDEX deliveries_due ON ${s}.deliveries (next_attempt_at) WHERE state = 'pending';
      -- The deliveries of a patch, and per destination the earlier ones still pending.
      CREATE INDEX deliveries_by_patch ON ${s}.deliveries (patch_id, url, seq);
    `,
  },
]

export const LATEST_VERSION = Math.max(0, ...MIGRATIONS.map((m) => m.version))
