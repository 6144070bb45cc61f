import type Database from "better-sqlite3";
import type { OptOut, PreferenceStore } from "../types";
import { nowIso } from "./cursor";

export class SqlitePreferenceStore implements PreferenceStore {
  private readonly insert: Database.Statement;
  private readonly deleteOne: Database.Statement;
  private readonly deleteAll: Database.Statement;
  private readonly anyMatch: Database.Statement;
  private readonly select: Database.Statement;
  private readonly among: Database.Statement;

  constructor(db: Database.Database) {
    // Opting out twice keeps the first `at`.
    this.insert = db.prepare("INSERT INTO opt_outs (tenant_id, user_key, category, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.deleteOne = db.prepare("DELETE FROM opt_outs WHERE tenant_id = ? AND user_key = ? AND category = ?");
    this.deleteAll = db.prepare("DELETE FROM opt_outs WHERE tenant_id = ? AND user_key = ?");
    this.anyMatch = db.prepare(`
      SELECT 1 FROM opt_outs
      WHERE tenant_id = ? AND user_key IN (SELECT value FROM json_each(?)) AND category IN (?, '*') LIMIT 1`);
    this.among = db.prepare(`
      SELECT DISTINCT user_key AS userKey FROM opt_outs
      WHERE tenant_id = ? AND user_key IN (SELECT value FROM json_each(?)) AND category IN (?, '*')`);
    this.select = db.prepare(
      "SELECT tenant_id AS tenantId, user_key AS userKey, category, at FROM opt_outs WHERE tenant_id = ? AND user_key = ? ORDER BY category",
    );
  }

  async optOut(tenantId: string, userKey: string, category: string): Promise<void> {
    this.insert.run(tenantId, userKey, category, nowIso());
  }

  async optIn(tenantId: string, userKey: string, category: string): Promise<void> {
    if (category === "*") this.deleteAll.run(tenantId, userKey);
    else this.deleteOne.run(tenantId, userKey, category);
  }

  async isOptedOut(tenantId: string, userKeys: string[], category: string | undefined): Promise<boolean> {
    if (userKeys.length === 0) return false;
    // With no category only "*" applies; binding "*" twice keeps one statement.
    return this.anyMatch.get(tenantId, JSON.stringify(userKeys), category ?? "*") !== undefined;
  }

  async optedOutAmong(tenantId: string, userKeys: readonly string[], category: string | undefined): Promise<Set<string>> {
    if (userKeys.length === 0) return new Set();
    const rows = this.among.all(tenantId, JSON.stringify(userKeys), category ?? "*") as Array<{ userKey: string }>;
    return new Set(rows.map((r) => r.userKey));
  }

  async list(tenantId: string, userKey: string): Promise<OptOut[]> {
    return this.select.all(tenantId, userKey) as OptOut[];
  }
}
