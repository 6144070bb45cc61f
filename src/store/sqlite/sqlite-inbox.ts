/**
 * The inbox index in SQLite. Its tables belong to this module and are created here (IF NOT EXISTS, in one
 * IMMEDIATE transaction, so several processes opening one file agree); they only ever grow by new tables, so
 * they stay out of the numbered migrations in schema.ts.
 */
import type Database from "better-sqlite3";
import type { InboxEntry, InboxStore } from "../inbox";
import type { Page } from "../types";
import { clampLimit, decodeCursor, encodeCursor } from "./cursor";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS inbox_entries (
    tenant_id   TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    place_key   TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    entry       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, person_key, job_id, place_key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS inbox_newest_first ON inbox_entries (tenant_id, person_key, sent_at DESC, job_id, place_key);
  CREATE TABLE IF NOT EXISTS inbox_categories (
    tenant_id   TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    category    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, person_key, category)
  ) WITHOUT ROWID;
`;

type Position = [sentAt: string, jobId: string, placeKey: string];
const isPosition = (v: unknown): v is Position => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "string");

export class SqliteInboxStore implements InboxStore {
  private readonly recordTx: Database.Transaction<(entries: InboxEntry[]) => void>;
  private readonly firstPage: Database.Statement;
  private readonly nextPage: Database.Statement;
  private readonly selectCategories: Database.Statement;
  private readonly removePersonTx: Database.Transaction<(tenantId: string, personKey: string) => number>;

  constructor(db: Database.Database) {
    db.transaction(() => db.exec(SCHEMA)).immediate();
    const upsert = db.prepare(`
      INSERT INTO inbox_entries (tenant_id, person_key, job_id, place_key, sent_at, entry) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (tenant_id, person_key, job_id, place_key) DO UPDATE SET sent_at = excluded.sent_at, entry = excluded.entry`);
    const addCategory = db.prepare("INSERT INTO inbox_categories (tenant_id, person_key, category) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    this.recordTx = db.transaction((entries: InboxEntry[]) => {
      for (const e of entries) {
        upsert.run(e.tenantId, e.personKey, e.jobId, e.placeKey, e.sentAt, JSON.stringify(e));
        addCategory.run(e.tenantId, e.personKey, e.category);
      }
    });
    const page = (after: string) => db.prepare(`
      SELECT entry FROM inbox_entries
      WHERE tenant_id = @tenantId AND person_key = @personKey ${after}
      ORDER BY sent_at DESC, job_id, place_key LIMIT @limit`);
    this.firstPage = page("");
    // Keyset paging in the index's order: older, or the same time and later in (job_id, place_key).
    this.nextPage = page("AND (sent_at < @sentAt OR (sent_at = @sentAt AND (job_id, place_key) > (@jobId, @placeKey)))");
    this.selectCategories = db.prepare("SELECT category FROM inbox_categories WHERE tenant_id = ? AND person_key = ? ORDER BY category");
    const deleteEntries = db.prepare("DELETE FROM inbox_entries WHERE tenant_id = ? AND person_key = ?");
    const deleteCategories = db.prepare("DELETE FROM inbox_categories WHERE tenant_id = ? AND person_key = ?");
    this.removePersonTx = db.transaction((tenantId: string, personKey: string) => {
      deleteCategories.run(tenantId, personKey);
      return deleteEntries.run(tenantId, personKey).changes;
    });
  }

  async record(entries: InboxEntry[]): Promise<void> {
    if (entries.length) this.recordTx.immediate(entries);
  }

  async list(tenantId: string, personKey: string, limit: number, cursor?: string): Promise<Page<InboxEntry>> {
    const max = clampLimit(limit);
    const after = decodeCursor(cursor, isPosition);
    const rows = (after
      ? this.nextPage.all({ tenantId, personKey, limit: max + 1, sentAt: after[0], jobId: after[1], placeKey: after[2] })
      : this.firstPage.all({ tenantId, personKey, limit: max + 1 })) as Array<{ entry: string }>;
    const items = rows.slice(0, max).map((r) => JSON.parse(r.entry) as InboxEntry);
    if (rows.length <= max) return { items };
    const last = items[items.length - 1]!;
    return { items, cursor: encodeCursor([last.sentAt, last.jobId, last.placeKey]) };
  }

  async categories(tenantId: string, personKey: string): Promise<string[]> {
    return (this.selectCategories.all(tenantId, personKey) as Array<{ category: string }>).map((r) => r.category);
  }

  async removePerson(tenantId: string, personKey: string): Promise<number> {
    return this.removePersonTx.immediate(tenantId, personKey);
  }
}
