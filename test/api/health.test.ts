import assert from "node:assert/strict";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";

describe("health: /api/health, /api/health/live, /api/health/ready and /api/cluster", function () {
  this.timeout(30_000);
  let fx: HeraldFixture;

  beforeEach(async () => {
    fx = await startHerald();
  });
  afterEach(async () => {
    await fx.stop().catch(() => undefined);
  });

  it("names the instance and the partitions it owns (all of them, alone), and is ready once the engine runs", async () => {
    const health = await fx.api("GET", "/api/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.instanceId, fx.herald.ownership.instanceId);
    assert.equal(health.body.engine, "running");
    assert.equal(health.body.partitions.length, 32);
    assert.equal((await fx.api("GET", "/api/health/live")).status, 200);
    const ready = await fx.api("GET", "/api/health/ready");
    assert.deepEqual([ready.status, ready.body.status, ready.body.store, ready.body.engine], [200, "ready", "ok", "running"]);
    const cluster = await fx.api("GET", "/api/cluster");
    assert.equal(cluster.status, 200);
    assert.equal(cluster.body.mode, "sole");
    assert.deepEqual(cluster.body.instances.map((i: { id: string }) => i.id), [fx.herald.ownership.instanceId]);
  });

  it("is not ready while the engine is stopped, nor when the store does not answer; live answers regardless", async () => {
    await fx.herald.engine.stop();
    const stopped = await fx.api("GET", "/api/health/ready");
    assert.deepEqual([stopped.status, stopped.body.engine], [503, "stopped"]);
    await fx.store.close();
    const down = await fx.api("GET", "/api/health/ready");
    assert.deepEqual([down.status, down.body.store], [503, "unavailable"]);
    assert.equal((await fx.api("GET", "/api/health")).status, 503);
    assert.equal((await fx.api("GET", "/api/health/live")).status, 200);
  });
});
