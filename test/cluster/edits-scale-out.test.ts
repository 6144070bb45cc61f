/**
 * Update and retract with two Herald processes on one Azure Storage account (Azurite): the API call lands on one
 * instance, the Teams work runs on each tenant's partition owner, every copy is updated once and deleted once,
 * and no tenant sees more than Teams' 50 requests/s.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { partitionOf } from "../../src/cluster/partitions";
import { ConnectorEmulator } from "../../src/emulator/connector-emulator";
import type { SeededTenant } from "../../src/emulator/types";
import { silentLogger } from "../../src/logger";
import { openAzureTableStore } from "../../src/store/azure-table";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { storePersonalInstalls } from "../support/copies";
import { activityText, eventually } from "../support/herald-fixture";
import { spawnHerald, stopProcess, type HeraldProcess } from "../support/herald-process";

const PARTITIONS = 32;

describe("scale-out: PATCH and DELETE with two Herald processes on Azurite", function () {
  this.timeout(240_000);
  let azurite: AzuriteTable;
  const tenants: Array<{ emulator: ConnectorEmulator; seeded: SeededTenant }> = [];
  const processes: HeraldProcess[] = [];

  before(async () => {
    azurite = await startAzurite({ blob: true });
  });
  after(async () => {
    await Promise.all(processes.map((p) => stopProcess(p, "SIGKILL")));
    await Promise.all(tenants.map((t) => t.emulator.stop()));
    await azurite?.stop();
  });

  it("each copy is updated once and deleted once, by its tenant's owner, whichever instance took the request", async () => {
    const prefix = `edits${randomUUID().replace(/-/g, "").slice(0, 10)}`;
    const env = { HERALD_STORE: `azure-table:${azurite.connectionString}`, HERALD_TABLE_PREFIX: prefix };
    const store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
    for (let t = 0; t < 2; t++) {
      const emulator = new ConnectorEmulator({ latencyMs: 10 });
      const serviceUrl = await emulator.start();
      const seeded = emulator.seed({ tenantId: `tenant-edit-${t}-${randomUUID().slice(0, 8)}`, users: 100 });
      tenants.push({ emulator, seeded });
      await storePersonalInstalls(store, serviceUrl, seeded.users);
    }
    await store.close();

    const [a, b] = await Promise.all([spawnHerald(env), spawnHerald(env)]);
    processes.push(a!, b!);
    await eventually(async () => {
      const view = (await a!.api("GET", "/api/cluster")).body;
      return view.unowned.length === 0 && view.instances.length === 2 && view.instances.every((i: { partitions: number[] }) => i.partitions.length === PARTITIONS / 2);
    }, "two instances sharing the partitions", 60_000);
    const owners = await Promise.all(tenants.map(async (t) => {
      const partition = partitionOf(t.seeded.tenantId, PARTITIONS);
      for (const p of [a!, b!]) if ((await p.api("GET", "/api/health")).body.partitions.includes(partition)) return p;
      throw new Error("no owner");
    }));

    const created = await a!.api("POST", "/api/notifications", { title: "Maintenance", text: "v1: tonight at 22:00." });
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    await eventually(async () => (await b!.api("GET", `/api/notifications/${id}`)).body.status === "completed", "the broadcast", 90_000);

    // Update through B: the owners (A, B or both) do the requests.
    const patch = await b!.api("PATCH", `/api/notifications/${id}`, { text: "v2: moved to Saturday." });
    assert.equal(patch.status, 202, JSON.stringify(patch.body));
    const updated = await eventually(async () => {
      const r = (await a!.api("GET", `/api/notifications/${id}`)).body;
      return r.update?.pending === 0 && r.update.updated === 200 ? r : undefined;
    }, "every copy updated", 90_000);
    assert.deepEqual(updated.update, { version: 2, updated: 200, pending: 0, failed: 0 });
    for (const { emulator, seeded } of tenants) {
      for (const user of seeded.users) {
        const [copy] = emulator.delivered(user.personalConversationId);
        assert.equal(emulator.updatesOf(copy!.activityId).length, 1, `${user.id}: updated exactly once`);
        assert.match(activityText(emulator.latestContent(copy!.activityId)), /v2: moved to Saturday/);
      }
    }
    // The log line of the update is on each tenant's owner.
    await eventually(() => owners.every((o) => /delivered copies updated/.test(o.output())), "the owners' log lines", 10_000);

    // Retract through A.
    assert.equal((await a!.api("DELETE", `/api/notifications/${id}`)).status, 202);
    const retracted = await eventually(async () => {
      const r = (await b!.api("GET", `/api/notifications/${id}`)).body;
      return r.retract?.pending === 0 && r.retract.deleted === 200 ? r : undefined;
    }, "every copy deleted", 90_000);
    assert.equal(retracted.retract.failed, 0);
    for (const { emulator, seeded } of tenants) {
      assert.equal(emulator.stats().byRoute.delete, seeded.users.length, "one delete per copy");
      assert.ok(seeded.users.every((u) => emulator.visible(u.personalConversationId).length === 0));
      // One owner per tenant: two instances editing one tenant would reach ~100 requests/s. (That one owner keeps to
      // exactly 50/s is the engine tests' subject; here the emulators share the busy test process, whose late
      // timers can stamp a few arrivals together.)
      const busiest = emulator.busiestWindow(1000, seeded.tenantId);
      assert.ok(busiest <= 60, `tenant ${seeded.tenantId} saw ${busiest} requests within one second`);
    }
  });
});
