/** SQLite specifics of the tab's indexes: they are index reads, and an existing database gets them on open. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";

describe("SqliteStore: inbox and directory search indexes", function () {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "herald-sqlite-tab-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a person's inbox page through the newest-first index, never scanning the table", async function () {
    const path = join(dir, "plan.db");
    await new SqliteStore(path, silentLogger()).close();
    const db = new Database(path, { readonly: true });
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT entry FROM inbox_entries WHERE tenant_id = 't' AND person_key = 'p'
        AND (sent_at < 'x' OR (sent_at = 'x' AND (job_id, place_key) > ('j', 'k'))) ORDER BY sent_at DESC, job_id, place_key LIMIT 51`).all() as Array<{ detail: string }>;
      const details = plan.map((row) => row.detail).join("\n");
      assert.match(details, /SEARCH inbox_entries USING (COVERING )?INDEX inbox_newest_first/);
      assert.doesNotMatch(details, /SCAN inbox_entries|USE TEMP B-TREE/);
    } finally {
      db.close();
    }
  });

  it("indexes the members of a database written before the search existed, once, when it is opened", async function () {
    const path = join(dir, "older.db");
    const store = new SqliteStore(path, silentLogger());
    await store.members.upsertMembers("_t_19:team@thread.tacv2", [{ tenantId: "t", userId: "29:1", name: "Grace Hopper", serviceUrl: "https://s/" }]);
    await store.close();
    // What an older Herald's file looks like: the members, no search index.
    const db = new Database(path);
    db.exec("DROP TRIGGER member_search_insert; DROP TRIGGER member_search_update; DROP TRIGGER member_search_delete; DROP TABLE member_search;");
    db.prepare("INSERT INTO members (tenant_id, user_id, name, service_url, updated_at) VALUES ('t', '29:2', 'Grace Kelly', 'https://s/', '2026-01-01T00:00:00.000Z')").run();
    db.close();

    const reopened = new SqliteStore(path, silentLogger());
    try {
      assert.deepEqual((await reopened.members.search("t", "grace", 10)).map((m) => m.userId), ["29:1", "29:2"]);
      assert.deepEqual((await reopened.members.search("t", "kelly", 10)).map((m) => m.userId), ["29:2"]);
    } finally {
      await reopened.close();
    }
  });
});
