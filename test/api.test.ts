import { strict as assert } from "node:assert";
import sinon from "sinon";
import { activityText, eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";
import { NetworkNamespace } from "./support/network-namespace";

const API_KEY = "test-key-0123456789abcdef";
const auth = { authorization: `Bearer ${API_KEY}` };

async function installEverywhere(fx: HeraldFixture): Promise<string[]> {
  const [alice, bob] = fx.tenant.users;
  const chat = fx.tenant.groupChats[0];
  const team = fx.tenant.teams[0];
  await fx.driver.installPersonal(alice);
  await fx.driver.installPersonal(bob);
  await fx.driver.installGroupChat(chat, alice);
  await fx.driver.installTeam(team, alice);
  fx.emulator.reset(); // forget the welcomes; keep the seed
  return [alice.personalConversationId, bob.personalConversationId, chat.id, team.id];
}

describe("HTTP API contract", () => {
  let fx: HeraldFixture;

  beforeEach(async () => {
    fx = await startHerald({ env: { HERALD_API_KEY: API_KEY } });
  });
  afterEach(async () => {
    sinon.restore();
    await fx.stop();
  });

  it("POST /api/notifications answers 202 with an id, then reaches every installation (the default audience)", async () => {
    const conversations = await installEverywhere(fx);
    const res = await fx.api("POST", "/api/notifications", { title: "Deploy finished", text: "v1.2 is live" }, auth);
    assert.equal(res.status, 202);
    assert.equal(typeof res.body.id, "string");
    assert.ok(["queued", "running", "completed"].includes(res.body.status));
    assert.equal(res.headers.get("location"), `/api/notifications/${res.body.id}`);

    const report = await eventually(async () => {
      const r = await fx.api("GET", `/api/notifications/${res.body.id}`, undefined, auth);
      return r.body.status === "completed" ? r.body : undefined;
    }, "the notification to complete");
    assert.deepEqual(
      { total: report.counts.total, sent: report.counts.sent, failed: report.counts.failed, skipped: report.counts.skipped, pending: report.counts.pending },
      { total: 4, sent: 4, failed: 0, skipped: 0, pending: 0 },
    );
    for (const conversationId of conversations) {
      const delivered = fx.emulator.delivered().filter((d) => d.conversationId.split(";")[0] === conversationId);
      assert.equal(delivered.length, 1, `one card in ${conversationId}`);
      const text = activityText(delivered[0].activity);
      assert.match(text, /Deploy finished/);
      assert.match(text, /v1\.2 is live/);
      assert.match(text, /Stop these/);
    }
  });

  it("GET /api/notifications/{id}/deliveries reports every target with status and activity id", async () => {
    await installEverywhere(fx);
    const { body } = await fx.api("POST", "/api/notifications", { title: "t", text: "x" }, auth);
    await eventually(async () => (await fx.api("GET", `/api/notifications/${body.id}`, undefined, auth)).body.status === "completed", "completion");
    const page1 = await fx.api("GET", `/api/notifications/${body.id}/deliveries?limit=3`, undefined, auth);
    assert.equal(page1.status, 200);
    assert.equal(page1.body.items.length, 3);
    const page2 = await fx.api("GET", `/api/notifications/${body.id}/deliveries?limit=3&cursor=${encodeURIComponent(page1.body.cursor)}`, undefined, auth);
    const all = [...page1.body.items, ...page2.body.items];
    assert.equal(all.length, 4);
    for (const d of all) {
      assert.equal(d.status, "sent");
      assert.ok(d.activityId, "activity id recorded");
      assert.equal(d.attempts, 1);
    }
  });

  it("the TeamsFx template's POST /api/notification still works, with the template's defaults", async () => {
    await installEverywhere(fx);
    const res = await fx.api("POST", "/api/notification", undefined, auth);
    assert.equal(res.status, 202);
    assert.equal(res.body.title, "New Event Occurred!");
    await eventually(async () => (await fx.api("GET", `/api/notifications/${res.body.id}`, undefined, auth)).body.counts.sent === 4, "4 sent");
  });

  it("a repeated idempotencyKey returns the existing notification and sends nothing twice", async () => {
    await installEverywhere(fx);
    const first = await fx.api("POST", "/api/notifications", { title: "once", text: "x", idempotencyKey: "evt-42" }, auth);
    const second = await fx.api("POST", "/api/notifications", { title: "once", text: "x", idempotencyKey: "evt-42" }, auth);
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.id, first.body.id);
    assert.equal(first.body.created, true);
    assert.equal(second.body.created, false);
    await eventually(async () => (await fx.api("GET", `/api/notifications/${first.body.id}`, undefined, auth)).body.status === "completed", "completion");
    assert.equal(fx.emulator.delivered().length, 4);
    const list = await fx.api("GET", "/api/notifications", undefined, auth);
    assert.equal(list.body.items.filter((n: { id: string }) => n.id === first.body.id).length, 1);
  });

  describe("errors are JSON naming the problem, and lose nothing already stored", () => {
    let before: { targets: number; jobs: number };

    beforeEach(async () => {
      await installEverywhere(fx);
      await fx.api("POST", "/api/notifications", { title: "kept", text: "x" }, auth);
      before = { targets: await fx.store.targets.count({}), jobs: (await fx.store.jobs.listJobs(100)).items.length };
    });
    afterEach(async () => {
      assert.equal(await fx.store.targets.count({}), before.targets, "targets intact");
      assert.equal((await fx.store.jobs.listJobs(100)).items.length, before.jobs, "no job created or lost");
    });

    const expectError = async (res: { status: number; body: any }, status: number, code: string, mention?: RegExp) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
      assert.equal(typeof res.body.error.message, "string");
      if (mention) assert.match(res.body.error.message, mention);
      assert.doesNotMatch(JSON.stringify(res.body), new RegExp(API_KEY));
    };

    it("400 names a missing field", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { text: "no title" }, auth), 400, "invalid_request", /title/);
    });
    it("400 names a field of the wrong type", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { title: "t", text: 42 }, auth), 400, "invalid_request", /text/);
    });
    it("400 names an unknown field", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { title: "t", text: "x", colour: "red" }, auth), 400, "invalid_request", /colour/);
    });
    it("400 names an unknown card template", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { title: "t", text: "x", card: { template: "nope", data: {} } }, auth), 400, "invalid_request", /card\.template/);
    });
    it("400 for a body that is not valid JSON", async () => {
      await expectError(await fx.api("POST", "/api/notifications", "{not json", auth), 400, "invalid_json");
    });
    it("415 for a body that is not JSON", async () => {
      await expectError(await fx.api("POST", "/api/notifications", "title=t", { ...auth, "content-type": "text/plain" }), 415, "unsupported_media_type");
    });
    it("413 for a body over 256 KB", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { title: "t", text: "x".repeat(300 * 1024) }, auth), 413, "payload_too_large");
    });
    it("401 without the bearer key, and with a wrong one", async () => {
      await expectError(await fx.api("POST", "/api/notifications", { title: "t", text: "x" }), 401, "unauthorized");
      await expectError(await fx.api("GET", "/api/notifications", undefined, { authorization: "Bearer wrong-key-0123456789" }), 401, "unauthorized");
      await expectError(await fx.api("GET", "/api/targets", undefined, { authorization: API_KEY }), 401, "unauthorized");
    });
    it("404 for an unknown notification id, and for an unknown route", async () => {
      await expectError(await fx.api("GET", "/api/notifications/does-not-exist", undefined, auth), 404, "not_found", /does-not-exist/);
      await expectError(await fx.api("GET", "/api/notifications/does-not-exist/deliveries", undefined, auth), 404, "not_found");
      await expectError(await fx.api("POST", "/api/notifications/does-not-exist/cancel", undefined, auth), 404, "not_found");
      await expectError(await fx.api("GET", "/api/nothing-here", undefined, auth), 404, "not_found");
    });
    it("400 for a bad page size or filter", async () => {
      await expectError(await fx.api("GET", "/api/targets?limit=0", undefined, auth), 400, "invalid_request", /limit/);
      await expectError(await fx.api("GET", "/api/targets?kind=fax", undefined, auth), 400, "invalid_request", /kind/);
    });
  });

  it("GET /api/health is 200 when the store answers and 503 when it does not", async () => {
    const ok = await fx.api("GET", "/api/health");
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, "ok");
    sinon.stub(fx.store, "ping").rejects(new Error("store down"));
    const down = await fx.api("GET", "/api/health");
    assert.equal(down.status, 503);
    assert.equal(down.body.error.code, "store_unavailable");
  });

  it("GET /api/targets pages and filters the registry with totals", async () => {
    await installEverywhere(fx);
    const all = await fx.api("GET", "/api/targets?limit=2", undefined, auth);
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 4);
    assert.equal(all.body.items.length, 2);
    const rest = await fx.api("GET", `/api/targets?limit=2&cursor=${encodeURIComponent(all.body.cursor)}`, undefined, auth);
    const keys = new Set([...all.body.items, ...rest.body.items].map((t: { key: string }) => t.key));
    assert.equal(keys.size, 4);
    const personal = await fx.api("GET", "/api/targets?kind=personal", undefined, auth);
    assert.equal(personal.body.total, 2);
    assert.ok(personal.body.items.every((t: { kind: string }) => t.kind === "personal"));
    assert.ok(!("reference" in personal.body.items[0]), "internals are not exposed");
  });

  it("serves an OpenAPI description of the API", async () => {
    const res = await fx.api("GET", "/api/openapi.json");
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, "3.1.0");
    assert.ok(res.body.paths["/api/notifications"].post);
    assert.ok(res.body.components.schemas.NotificationRequest.properties.audience);
    // Notifications after sending (issue 11): every route and field is described.
    const paths = res.body.paths;
    assert.ok(paths["/api/notifications/{id}"].patch && paths["/api/notifications/{id}"].delete);
    assert.ok(paths["/api/notifications/{id}/retry"].post && paths["/api/notifications/{id}/remind"].post);
    assert.deepEqual(paths["/api/notifications/{id}/deliveries"].get.parameters.map((p: { name: string }) => p.name), ["id", "status", "acknowledged", "held", "limit", "cursor"]);
    const schemas = res.body.components.schemas;
    assert.deepEqual(Object.keys(schemas.NotificationRequest.properties.deliverWithin.properties), ["start", "end", "days"]);
    assert.ok(schemas.NotificationRequest.properties.acknowledge);
    assert.deepEqual(Object.keys(schemas.NotificationUpdate.properties), ["title", "text", "url", "card"]);
    assert.ok(schemas.Notification.properties.update && schemas.Notification.properties.retract && schemas.Notification.properties.counts.properties.acknowledged);
  });
});

describe("HTTP API: cancelling a notification", () => {
  let fx: HeraldFixture;

  beforeEach(async () => {
    // A failed attempt is retried only after ten minutes: a notification with one failing recipient stays
    // running, that retry waiting in the engine, for as long as the test needs.
    fx = await startHerald({ env: { HERALD_API_KEY: API_KEY }, overrides: { engine: { backoff: { baseMs: 600_000, maxMs: 600_000, jitter: 0 } } } });
  });
  afterEach(async () => fx.stop());

  const report = async (id: string) => (await fx.api("GET", `/api/notifications/${id}`, undefined, auth)).body;
  const counts = (r: { counts: Record<string, number> }) =>
    ({ total: r.counts.total, sent: r.counts.sent, pending: r.counts.pending, cancelled: r.counts.cancelled, failed: r.counts.failed });

  it("POST /api/notifications/{id}/cancel answers 200 with status cancelled and counts; what was waiting is never sent", async () => {
    const [, bob] = await installEverywhere(fx);
    fx.emulator.addFault({ match: { route: "send", conversationId: bob }, status: 503 });
    const { body } = await fx.api("POST", "/api/notifications", { title: "Deploy", text: "x" }, auth);
    const running = await eventually(async () => {
      const r = await report(body.id);
      return r.counts.sent === 3 && r.counts.pending === 1 ? r : undefined;
    }, "three sent and Bob's retry waiting");
    assert.equal(running.status, "running");

    const res = await fx.api("POST", `/api/notifications/${body.id}/cancel`, undefined, auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, body.id);
    assert.equal(res.body.status, "cancelled");
    assert.deepEqual(counts(res.body), { total: 4, sent: 3, pending: 0, cancelled: 1, failed: 0 });
    assert.deepEqual(counts(await report(body.id)), counts(res.body));
    const bobsDelivery = (await fx.api("GET", `/api/notifications/${body.id}/deliveries?status=cancelled`, undefined, auth)).body.items;
    assert.deepEqual(bobsDelivery.map((d: { conversationId: string; attempts: number }) => [d.conversationId, d.attempts]), [[bob, 1]]);
    // The retry that was waiting left the engine with the job: nothing is queued, active or in flight.
    const engine = fx.herald.engine.stats();
    assert.deepEqual([engine.activeJobs, engine.queued, engine.inFlight], [0, 0, 0]);
    assert.equal(fx.emulator.requests({ route: "send", limitKey: bob }).length, 1);
  });

  it("answers 409 for a notification that finished (completed, or failed) and changes nothing; a repeated cancel answers the same report", async () => {
    await installEverywhere(fx);
    const finished = async (title: string) => {
      const { body } = await fx.api("POST", "/api/notifications", { title, text: "x" }, auth);
      return eventually(async () => {
        const r = await report(body.id);
        return r.status === "completed" || r.status === "failed" ? r : undefined;
      }, `"${title}" to finish`);
    };
    const completed = await finished("delivered");
    fx.emulator.addFault({ match: { route: "send" }, status: 400 });
    const failed = await finished("refused everywhere");
    assert.deepEqual([completed.status, failed.status], ["completed", "failed"]);

    for (const before of [completed, failed]) {
      const res = await fx.api("POST", `/api/notifications/${before.id}/cancel`, undefined, auth);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "not_cancellable");
      assert.match(res.body.error.message, new RegExp(`already ${before.status}`));
      const after = await report(before.id);
      assert.equal(after.status, before.status);
      assert.deepEqual(counts(after), counts(before));
    }

    // Cancelling a cancelled notification is not an error: the same report again.
    fx.emulator.clearFaults();
    fx.emulator.addFault({ match: { route: "send", conversationId: fx.tenant.users[0].personalConversationId }, status: 503 });
    const { body } = await fx.api("POST", "/api/notifications", { title: "waiting", text: "x" }, auth);
    await eventually(async () => (await report(body.id)).counts.sent === 3, "three sent");
    const first = await fx.api("POST", `/api/notifications/${body.id}/cancel`, undefined, auth);
    const again = await fx.api("POST", `/api/notifications/${body.id}/cancel`, undefined, auth);
    assert.deepEqual([first.status, again.status], [200, 200]);
    assert.deepEqual(again.body, first.body);
  });
});

describe("HTTP API without HERALD_API_KEY (local mode)", () => {
  let fx: HeraldFixture;
  let elsewhere: NetworkNamespace | undefined;
  before(async () => {
    fx = await startHerald();
  });
  after(async () => {
    await elsewhere?.remove();
    await fx.stop();
  });

  it("accepts loopback callers without a key", async () => {
    const res = await fx.api("GET", "/api/notifications");
    assert.equal(res.status, 200);
  });

  it("refuses callers that are not on loopback: a client in another network namespace gets 401", async () => {
    // Herald listens on every address; the client calls this host's end of a veth pair from its own.
    elsewhere = await NetworkNamespace.create();
    const res = await elsewhere.fetch(`http://${elsewhere.hostAddress}:${new URL(fx.url).port}/api/notifications`);
    assert.equal(res.status, 401, res.body);
    const { error } = JSON.parse(res.body) as { error: { code: string; message: string } };
    assert.equal(error.code, "unauthorized");
    assert.match(error.message, /only loopback callers/);
  });
});
