import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey } from "../src/store/types";
import { startHerald, type HeraldFixture } from "./support/herald-fixture";

describe("registry under load: concurrent installs through /api/messages (SQLite on disk)", function () {
  this.timeout(120_000);
  let fx: HeraldFixture;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-registry-"));
    const store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
    fx = await startHerald({ store, tenant: { tenantId: "tenant-load", users: 1000 } });
  });
  after(async () => {
    await fx.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("1,000 concurrent install events leave exactly 1,000 targets", async () => {
    const activities = fx.tenant.users.map((user) => fx.driver.installation(user, user, "add"));
    const statuses = await fx.driver.sendMany(activities, 100);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(await fx.store.targets.count({ tenantId: "tenant-load" }), 1000);
    const keys = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await fx.store.targets.list({ tenantId: "tenant-load" }, 300, cursor);
      page.items.forEach((t) => keys.add(t.key));
      cursor = page.cursor;
    } while (cursor);
    assert.equal(keys.size, 1000);
    for (const user of fx.tenant.users.slice(0, 50)) assert.ok(keys.has(targetKey("tenant-load", user.personalConversationId)));
  });
});
