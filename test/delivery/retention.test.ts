import assert from "node:assert/strict";
import { Retention } from "../../src/delivery/retention";
import { silentLogger } from "../../src/logger";
import { MemoryStore } from "../../src/store/memory";
import { eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";

describe("retention: finished notifications older than HERALD_RETENTION_DAYS go, deliveries first", function () {
  this.timeout(30_000);
  let fx: HeraldFixture;
  let offset = 0;
  const clock = { now: () => Date.now() + offset };

  beforeEach(async () => {
    offset = 0;
    // The engine stamps finishedAt with the same clock, so "a month later" holds for both.
    fx = await startHerald({ env: { HERALD_RETENTION_DAYS: "30" }, overrides: { engine: { clock }, retention: { clock, intervalMs: 3_600_000, batch: 7, pauseMs: 0 } } });
    for (const user of fx.tenant.users) await fx.driver.installPersonal(user);
    await fx.rostersSynced();
  });
  afterEach(() => fx.stop());

  async function sent(title: string): Promise<string> {
    const res = await fx.api("POST", "/api/notifications", { title, text: "retention", audience: { kind: "installations", types: ["personal"] } });
    assert.equal(res.status, 202);
    await eventually(async () => (await fx.api("GET", `/api/notifications/${res.body.id}`)).body.status === "completed", "completion");
    return res.body.id;
  }

  it("keeps what finished within the window and removes what finished before it, in batches", async () => {
    const old = await sent("Old news");
    offset += 31 * 86_400_000; // a month later
    const recent = await sent("Fresh news");
    assert.equal(fx.herald.retention !== undefined, true);
    const run = await fx.herald.retention!.runOnce();

    assert.deepEqual(run, { notifications: 1, deliveries: run.deliveries });
    assert.ok(run.deliveries >= fx.tenant.users.length, `${run.deliveries} delivery rows removed`);
    assert.equal((await fx.api("GET", `/api/notifications/${old}`)).status, 404);
    assert.equal((await fx.store.jobs.listDeliveries(old, 100)).items.length, 0);
    assert.equal((await fx.api("GET", `/api/notifications/${recent}`)).body.counts.sent, fx.tenant.users.length);
    // A second pass finds nothing more to do.
    assert.deepEqual(await fx.herald.retention!.runOnce(), { notifications: 0, deliveries: 0 });
  });

  it("leaves a running notification alone however old, and runs only on the owner of partition 0", async () => {
    const store = new MemoryStore();
    await store.jobs.createJob({ id: "running-1", status: "running", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "t", createdAt: "2020-01-01T00:00:00.000Z" }, []);
    await store.jobs.createJob({ id: "done-1", status: "completed", finishedAt: "2020-01-01T00:00:00.000Z", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "t", createdAt: "2020-01-01T00:00:00.000Z" }, []);
    const notOwner = new Retention({ store, ownership: { owns: () => false }, log: silentLogger(), days: 30, pauseMs: 0 });
    assert.deepEqual(await notOwner.runOnce(), { notifications: 0, deliveries: 0 });
    const owner = new Retention({ store, ownership: { owns: (p) => p === 0 }, log: silentLogger(), days: 30, pauseMs: 0 });
    assert.deepEqual(await owner.runOnce(), { notifications: 1, deliveries: 0 });
    assert.ok(await store.jobs.getJob("running-1"));
    assert.equal(await store.jobs.getJob("done-1"), undefined);
  });
});
