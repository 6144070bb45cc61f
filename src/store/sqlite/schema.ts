import type Database from "better-sqlite3";

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many have run. Append only: never
 * edit a migration that has shipped, add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE targets (
    key              TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('personal', 'groupChat', 'channel')),
    tenant_id        TEXT NOT NULL,
    conversation_id  TEXT NOT NULL,
    service_url      TEXT NOT NULL,
    reference        TEXT NOT NULL,
    team_id          TEXT,
    team_name        TEXT,
    channel_id       TEXT,
    user_id          TEXT,
    aad_object_id    TEXT,
    name             TEXT,
    upn              TEXT,
    locale           TEXT,
    time_zone        TEXT,
    installed_by     TEXT,
    installed_at     TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'gone')),
    gone_reason      TEXT,
    gone_at          TEXT
  ) WITHOUT ROWID;
  CREATE INDEX targets_by_tenant ON targets (tenant_id, key);
  CREATE INDEX targets_by_kind ON targets (kind, key);
  CREATE INDEX targets_by_status ON targets (status, key);
  CREATE INDEX targets_by_team ON targets (team_id, key) WHERE team_id IS NOT NULL;

  CREATE TABLE members (
    tenant_id                 TEXT NOT NULL,
    user_id                   TEXT NOT NULL,
    aad_object_id             TEXT,
    upn                       TEXT,
    email                     TEXT,
    name                      TEXT,
    service_url               TEXT NOT NULL,
    personal_conversation_id  TEXT,
    time_zone                 TEXT,
    updated_at                TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
  );
  CREATE INDEX members_by_aad ON members (aad_object_id, tenant_id) WHERE aad_object_id IS NOT NULL;
  CREATE INDEX members_by_upn ON members (upn, tenant_id) WHERE upn IS NOT NULL;
  CREATE INDEX members_by_user ON members (user_id);

  CREATE TABLE memberships (
    source_key  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    PRIMARY KEY (source_key, user_id),
    -- members are never deleted (the port has no such operation), so no index on the child side
    FOREIGN KEY (tenant_id, user_id) REFERENCES members (tenant_id, user_id)
  ) WITHOUT ROWID;

  CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    idempotency_key   TEXT UNIQUE,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    content           TEXT NOT NULL,
    audience          TEXT NOT NULL,
    category          TEXT,
    triggered_by      TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    total             INTEGER NOT NULL,
    throttle_retries  INTEGER NOT NULL DEFAULT 0,
    error             TEXT
  );
  CREATE INDEX jobs_by_created ON jobs (created_at, id);
  CREATE INDEX jobs_unfinished ON jobs (status) WHERE status IN ('queued', 'running');

  CREATE TABLE deliveries (
    job_id         TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    recipient_key  TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'gone', 'skipped', 'cancelled')),
    recipient      TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    throttled      INTEGER NOT NULL DEFAULT 0,
    activity_id    TEXT,
    reason         TEXT,
    not_before     INTEGER,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (job_id, seq),
    UNIQUE (job_id, recipient_key)
  ) WITHOUT ROWID;
  CREATE INDEX deliveries_by_status ON deliveries (job_id, status, seq);

  CREATE TABLE opt_outs (
    tenant_id  TEXT NOT NULL,
    user_key   TEXT NOT NULL,
    category   TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_key, category)
  ) WITHOUT ROWID;

  CREATE TABLE schedule_runs (
    id           INTEGER PRIMARY KEY,
    schedule_id  TEXT NOT NULL,
    slot         TEXT NOT NULL,
    job_id       TEXT,
    at           TEXT NOT NULL,
    UNIQUE (schedule_id, slot)
  );
  CREATE INDEX schedule_runs_latest ON schedule_runs (schedule_id, id);
  `,
  // 2: the API caller that created a job; a person's memberships found without a scan (erasure)
  `
  ALTER TABLE jobs ADD COLUMN created_by TEXT;
  CREATE INDEX memberships_by_person ON memberships (tenant_id, user_id);
  `,
  // 3: delivery partitions (job slices and the work index), the engine's holder (src/store/sqlite/engine-lock.ts)
  `
  ALTER TABLE jobs ADD COLUMN slices TEXT;

  CREATE TABLE work (
    partition   INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (partition, kind, id)
  ) WITHOUT ROWID;
  -- Jobs left unfinished by an older Herald: one slice in partition 0 (jobFromRow's default for slices IS NULL).
  INSERT INTO work (partition, kind, id, data, created_at)
    SELECT 0, 'job', id, '{}', created_at FROM jobs WHERE status IN ('queued', 'running');

  CREATE TABLE engine_holder (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pid          INTEGER NOT NULL,
    host         TEXT NOT NULL,
    instance_id  TEXT NOT NULL,
    since        TEXT NOT NULL
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema to SCHEMA_VERSION. Each step is its own IMMEDIATE transaction that re-reads user_version,
 * so two processes opening the same new file at once apply each migration exactly once. Safe to call again.
 * Returns the version found before migrating.
 */
export function migrate(db: Database.Database): number {
  const found = userVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new Error(`its schema version ${found} is newer than this Herald supports (${SCHEMA_VERSION}); upgrade Herald`);
  }
  const step = db.transaction(() => {
    const current = userVersion(db);
    if (current >= SCHEMA_VERSION) return false;
    db.exec(MIGRATIONS[current]!);
    db.pragma(`user_version = ${current + 1}`);
    return true;
  });
  while (step.immediate()) { /* next migration */ }
  return found;
}

export function userVersion(db: Database.Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}
