import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConnectorEmulator } from "../../src/emulator/connector-emulator";
import type { SeededUser } from "../../src/emulator/types";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";
import { storePersonalInstalls } from "../support/copies";
import { activityText, eventually } from "../support/herald-fixture";
import { spawnHerald, stopProcess, type HeraldProcess } from "../support/herald-process";

/**
 * Issue 11, item 2's "survives a crash like sends do": Herald is killed (SIGKILL) while it updates every copy of a
 * broadcast; the next process finishes the update. Only copies whose update was in flight at the kill (marked
 * "updating" in the store) may be updated twice.
 */
describe("crash safety: SIGKILL while updating every copy, then restart", function () {
  this.timeout(180_000);
  let dir: string;
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  const processes: HeraldProcess[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-update-crash-"));
    emulator = new ConnectorEmulator({ latencyMs: 30 });
    serviceUrl = await emulator.start();
  });
  after(async () => {
    await Promise.all(processes.map((p) => stopProcess(p, "SIGKILL")));
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every copy ends up updated; only the updates in flight at the kill are repeated", async () => {
    const users: SeededUser[] = [0, 1].flatMap((i) => emulator.seed({ tenantId: `tenant-update-crash-${i}`, users: 150 }).users);
    const dbPath = path.join(dir, "herald.db");
    const seed = new SqliteStore(dbPath, silentLogger());
    await storePersonalInstalls(seed, serviceUrl, users);
    await seed.close();
    const env = { HERALD_STORE: `sqlite:${dbPath}` };

    const first = await spawnHerald(env);
    processes.push(first);
    const created = await first.api("POST", "/api/notifications", { title: "Outage", text: "v1: we are on it." });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await eventually(async () => (await first.api("GET", `/api/notifications/${id}`)).body.status === "completed", "the broadcast", 60_000);

    assert.equal((await first.api("PATCH", `/api/notifications/${id}`, { text: "v2: resolved." })).status, 202);
    await eventually(() => (emulator.stats().byRoute.update ?? 0) >= 80, "a quarter of the update", 60_000);
    await stopProcess(first, "SIGKILL");

    // What the store says was in flight when the process died: the only copies that may be updated twice.
    const inspect = new SqliteStore(dbPath, silentLogger());
    const inFlight = new Set((await inspect.jobs.listDeliveriesByStatus(id, ["sent"], 1000, undefined, undefined, { copy: ["updating"] })).map((d) => d.activityId!));
    const atKill = (await inspect.jobs.copyCounts(id)).versions["2"] ?? 0;
    await inspect.close();
    assert.ok(atKill < users.length, "the kill happened mid-update");

    const second = await spawnHerald(env);
    processes.push(second);
    const report = await eventually(async () => {
      const r = (await second.api("GET", `/api/notifications/${id}`)).body;
      return r.update?.pending === 0 ? r : undefined;
    }, "the resumed update", 90_000);
    await stopProcess(second, "SIGTERM");

    assert.deepEqual(report.update, { version: 2, updated: users.length, pending: 0, failed: 0 });
    let twice = 0;
    for (const user of users) {
      const [copy, ...more] = emulator.delivered(user.personalConversationId);
      assert.equal(more.length, 0);
      const updates = emulator.updatesOf(copy!.activityId).length;
      assert.match(activityText(emulator.latestContent(copy!.activityId)), /v2: resolved/, `${user.id} sees the update`);
      assert.ok(updates >= 1, `${user.id}'s copy was updated`);
      if (updates > 1) {
        assert.ok(inFlight.has(copy!.activityId), `${user.id}'s copy was updated twice but its update was not in flight at the kill`);
        twice++;
      }
    }
    assert.ok(twice <= inFlight.size);
    assert.match(second.output(), /delivered copies updated/);
    console.log(`      SIGKILL mid-update: ${atKill} updated before, ${inFlight.size} in flight, ${twice} updated twice`);
  });
});
