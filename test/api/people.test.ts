import { strict as assert } from "node:assert";
import { eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";

const API_KEY = "test-key-0123456789abcdef";
const auth = { authorization: `Bearer ${API_KEY}` };

describe("DELETE /api/people/{id}: erasure through the running bot", () => {
  let fx: HeraldFixture;

  beforeEach(async () => {
    fx = await startHerald({ env: { HERALD_API_KEY: API_KEY } });
  });
  afterEach(async () => {
    await fx.stop();
  });

  it("erases what Teams taught Herald about a person, keeps the notification's counts, and is 404 the second time", async () => {
    const [grace, alan] = fx.tenant.users;
    const team = fx.tenant.teams[0];
    await fx.driver.installPersonal(grace);
    await fx.driver.installPersonal(alan);
    await fx.driver.installTeam(team, alan);
    await fx.rostersSynced();
    await fx.driver.message(grace, grace, "stop weekly-digest");
    const sent = await fx.api("POST", "/api/notifications", { title: "Maintenance", text: "tonight" }, auth);
    const id = sent.body.id;
    const before = await eventually(async () => {
      const r = await fx.api("GET", `/api/notifications/${id}`, undefined, auth);
      return r.body.status === "completed" ? r.body : undefined;
    }, "completion");

    const erased = await fx.api("DELETE", `/api/people/${grace.aadObjectId}`, undefined, auth);
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erased.body.peopleRemoved, 1);
    assert.equal(erased.body.targetsRemoved, 1);
    assert.equal(erased.body.preferencesRemoved, 1);
    assert.equal(erased.body.deliveriesScrubbed, 1);

    const targets = await fx.api("GET", "/api/targets", undefined, auth);
    assert.ok(!JSON.stringify(targets.body).includes(grace.aadObjectId), "no installation of hers is listed");
    assert.equal(targets.body.total, 2);
    const after = await fx.api("GET", `/api/notifications/${id}`, undefined, auth);
    assert.deepEqual(after.body.counts, before.counts, "counts stay");
    const report = await fx.api("GET", `/api/notifications/${id}/deliveries`, undefined, auth);
    const hers = report.body.items.filter((d: { conversationId: string | null }) => d.conversationId === null);
    assert.equal(hers.length, 1, "her delivery is still listed, without its conversation");
    assert.equal(hers[0].status, "sent");
    assert.equal(await fx.store.members.find({ aadObjectId: grace.aadObjectId }), undefined);
    assert.equal(await fx.store.members.find({ upn: grace.userPrincipalName }), undefined);
    assert.ok(await fx.store.members.find({ aadObjectId: alan.aadObjectId }), "her colleague is untouched");

    assert.equal((await fx.api("DELETE", `/api/people/${encodeURIComponent(grace.userPrincipalName)}`, undefined, auth)).status, 404);
  });

  it("is an authenticated API: 401 without the key; 400 for something that names no person", async () => {
    const grace = fx.tenant.users[0];
    await fx.driver.installPersonal(grace);
    assert.equal((await fx.api("DELETE", `/api/people/${grace.aadObjectId}`, undefined, { authorization: "Bearer wrong-key-0123456789" })).status, 401);
    const bad = await fx.api("DELETE", "/api/people/not-a-person", undefined, auth);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /^id: must be an Entra object id/);
    assert.ok(await fx.store.members.find({ aadObjectId: grace.aadObjectId }), "nothing erased by refused requests");
  });
});
