import { strict as assert } from "node:assert";
import sinon from "sinon";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { silentLogger } from "../src/logger";
import { GraphAppInstaller } from "../src/graph/app-installer";
import { GraphClient } from "../src/graph/graph-client";
import type { SeededUser } from "../src/emulator/types";
import { targetKey } from "../src/store/types";
import { FakeGraph } from "./support/fake-graph";
import { activityText, eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";

const TENANT = "tenant-reach";
const CATALOG_ID = "5f1b1263-aaaa-4bbb-8ccc-000000000001";

async function completed(fx: HeraldFixture, id: string): Promise<any> {
  return eventually(async () => {
    const r = await fx.api("GET", `/api/notifications/${id}`);
    return ["completed", "failed"].includes(r.body.status) ? r.body : undefined;
  }, `notification ${id} to finish`, 30_000);
}

async function deliveries(fx: HeraldFixture, id: string): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | undefined;
  do {
    const r = await fx.api("GET", `/api/notifications/${id}/deliveries?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    all.push(...r.body.items);
    cursor = r.body.cursor;
  } while (cursor);
  return all;
}

describe("reach: audiences through the connector emulator", function () {
  this.timeout(60_000);
  let fx: HeraldFixture;
  let graph: FakeGraph;
  let bigTeamMembers: SeededUser[];

  before(async () => {
    graph = await FakeGraph.start();
    graph.addCatalogApp({ id: CATALOG_ID, externalId: "herald-manifest-id", displayName: "Herald", distributionMethod: "organization" });
    const credential = { getToken: async (): Promise<AccessToken> => ({ token: "graph-token", expiresOnTimestamp: Date.now() + 3_600_000 }) } as TokenCredential;
    const installer = new GraphAppInstaller({
      client: new GraphClient({ credential, logger: silentLogger(), baseUrl: graph.url }),
      teamsAppId: CATALOG_ID, logger: silentLogger(), lookupDelayMs: 1,
    });
    fx = await startHerald({
      // Pacing is the engine's own tests' subject; here the emulator runs without limits and so may Herald.
      env: { HERALD_TENANT_RATE: "1000" },
      tenant: { tenantId: TENANT, users: 650, teams: [{ name: "Everyone", memberCount: 600, channels: 2 }, { name: "Small", memberCount: 4 }], groupChats: [{ memberCount: 3 }] },
      overrides: { installer },
    });
    const [big, small] = fx.tenant.teams;
    const owner = fx.tenant.users.find((u) => u.id === big.memberIds[0])!;
    await fx.driver.installTeam(big, owner);
    await fx.driver.installTeam(small, owner);
    await fx.driver.installGroupChat(fx.tenant.groupChats[0], owner);
    for (const user of fx.tenant.users.slice(0, 3)) await fx.driver.installPersonal(user);
    await fx.rostersSynced();
    bigTeamMembers = big.memberIds.map((id) => fx.tenant.users.find((u) => u.id === id)!);
  });
  after(async () => {
    await fx.stop();
    await graph.stop();
  });
  beforeEach(() => fx.emulator.reset());

  it("installations by kind reach only that kind", async () => {
    const res = await fx.api("POST", "/api/notifications", { title: "Teams only", text: "x", audience: { kind: "installations", types: ["channel"] } });
    assert.equal(res.status, 202);
    const report = await completed(fx, res.body.id);
    assert.equal(report.counts.total, 2);
    assert.equal(report.counts.sent, 2);
    const where = new Set(fx.emulator.delivered().map((d) => d.conversationId));
    assert.deepEqual(where, new Set(fx.tenant.teams.map((t) => t.id)));
  });

  it("all members of a team larger than one page, each in their 1:1 chat", async () => {
    const big = fx.tenant.teams[0];
    assert.equal(await fx.store.members.countBySource(targetKey(TENANT, big.id)), 600, "the roster was paged in at install (500 a page)");
    const res = await fx.api("POST", "/api/notifications", { title: "All hands", text: "to each of you", audience: { kind: "teamMembers", teamId: big.id } });
    const report = await completed(fx, res.body.id);
    assert.equal(report.counts.total, 600);
    assert.equal(report.counts.sent, 600);
    for (const member of bigTeamMembers) {
      const got = fx.emulator.delivered(member.personalConversationId);
      assert.equal(got.length, 1, `${member.id} got one 1:1 message`);
    }
    assert.match(activityText(fx.emulator.delivered(bigTeamMembers[7].personalConversationId)[0].activity), /member of the team Everyone/);
    // Teams' view of the 1:1s: created exactly once for each member who had none, and never for the three who
    // installed Herald in their personal chat (Herald knows those chats).
    const installedPersonally = new Set(fx.tenant.users.slice(0, 3).map((u) => u.id));
    const creates = new Map<string, number>();
    for (const r of fx.emulator.requests({ route: "create" })) creates.set(r.userId!, (creates.get(r.userId!) ?? 0) + 1);
    for (const member of bigTeamMembers) {
      assert.equal(creates.get(member.id) ?? 0, installedPersonally.has(member.id) ? 0 : 1, `creates of ${member.id}'s 1:1`);
    }
    assert.equal(fx.emulator.stats().byRoute.create, 597);
  });

  it("a new thread in the General channel, and in a named channel", async () => {
    const team = fx.tenant.teams[0];
    const named = team.channels.find((c) => c.id !== team.id)!;
    for (const channelId of [undefined, named.id]) {
      const res = await fx.api("POST", "/api/notifications", { title: "Thread", text: "new thread", audience: { kind: "channelThread", teamId: team.id, ...(channelId ? { channelId } : {}) } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const report = await completed(fx, res.body.id);
      assert.equal(report.counts.sent, 1);
    }
    const threads = fx.emulator.delivered().map((d) => d.conversationId);
    assert.equal(threads.length, 2);
    assert.ok(threads.some((id) => id.startsWith(`${team.id};messageid=`)));
    assert.ok(threads.some((id) => id.startsWith(`${named.id};messageid=`)));
  });

  it("chosen users by AAD object id, UPN and Teams user id; someone unknown is reported, not dropped", async () => {
    const [a, b, c] = bigTeamMembers.slice(10, 13);
    const res = await fx.api("POST", "/api/notifications", {
      title: "For you", text: "x",
      audience: { kind: "users", users: [{ aadObjectId: a.aadObjectId }, { upn: b.userPrincipalName.toUpperCase() }, { userId: c.id }, { userId: "29:nobody" }] },
    });
    const report = await completed(fx, res.body.id);
    assert.deepEqual({ total: report.counts.total, sent: report.counts.sent, skipped: report.counts.skipped }, { total: 4, sent: 3, skipped: 1 });
    for (const user of [a, b, c]) assert.equal(fx.emulator.delivered(user.personalConversationId).length, 1);
    const unknown = (await deliveries(fx, res.body.id)).find((d) => d.status === "skipped");
    assert.match(unknown.reason, /never seen this user/);
  });

  it("chosen conversation ids", async () => {
    const chat = fx.tenant.groupChats[0];
    const res = await fx.api("POST", "/api/notifications", { title: "Chat only", text: "x", audience: { kind: "conversations", conversationIds: [chat.id], tenantId: TENANT } });
    const report = await completed(fx, res.body.id);
    assert.equal(report.counts.sent, 1);
    assert.equal(fx.emulator.delivered(chat.id).length, 1);
  });

  it("invalid or unknown audience values are a 400 naming them", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ kind: "everyone" }, /audience\.kind/],
      [{ kind: "installations", types: ["fax"] }, /audience\.types/],
      [{ kind: "teamMembers", teamId: "19:no-such-team@thread.tacv2" }, /audience\.teamId.*19:no-such-team/],
      [{ kind: "channelThread", teamId: fx.tenant.teams[0].id, channelId: "19:nope@thread.tacv2" }, /audience\.channelId.*19:nope/],
      [{ kind: "users", users: [{ email: "x@y" }] }, /audience\.users/],
      [{ kind: "users", users: [] }, /users must not be empty/],
      [{ kind: "conversations", conversationIds: ["19:ghost@thread.v2"], tenantId: TENANT }, /audience\.conversationIds.*19:ghost/],
    ];
    for (const [audience, expected] of cases) {
      const res = await fx.api("POST", "/api/notifications", { title: "t", text: "x", audience });
      assert.equal(res.status, 400, JSON.stringify(audience));
      assert.match(res.body.error.message, expected);
    }
    assert.equal(fx.emulator.delivered().length, 0);
  });

  it("installIfMissing installs Herald through Graph for someone who never installed it, then delivers to that chat", async () => {
    const stranger = { id: "99999999-9999-4999-8999-999999999999", userPrincipalName: "stranger@contoso.com" };
    graph.addUser(stranger);
    const chatId = `19:${stranger.id}_${CATALOG_ID}@unq.gbl.spaces`;
    fx.emulator.registerConversation({ id: chatId, tenantId: TENANT, kind: "personal" });

    const without = await fx.api("POST", "/api/notifications", { title: "No install", text: "x", audience: { kind: "users", users: [{ aadObjectId: stranger.id }], tenantId: TENANT } });
    assert.equal((await completed(fx, without.body.id)).counts.skipped, 1);
    assert.equal(graph.installationsOf(stranger.id).length, 0);

    const res = await fx.api("POST", "/api/notifications", {
      title: "Welcome aboard", text: "installed for you", installIfMissing: true,
      audience: { kind: "users", users: [{ aadObjectId: stranger.id }, { upn: "ghost@contoso.com" }], tenantId: TENANT },
    });
    const report = await completed(fx, res.body.id);
    assert.equal(report.counts.sent, 1);
    assert.equal(report.counts.skipped, 1, "a user Graph does not know is reported");
    assert.equal(graph.installationsOf(stranger.id).length, 1);
    assert.equal(fx.emulator.delivered(chatId).length, 1);
    const ghost = (await deliveries(fx, res.body.id)).find((d) => d.status === "skipped");
    assert.match(ghost.reason, /Graph install failed/);
  });

  it("opt-out by card action: the next broadcast skips the person and reports it", async () => {
    const [alice, bob] = fx.tenant.users;
    await fx.driver.cardAction(alice, alice, { herald: "optout", category: "releases" });
    const res = await fx.api("POST", "/api/notifications", { title: "Release", text: "v2", category: "releases", audience: { kind: "installations", types: ["personal"] } });
    const report = await completed(fx, res.body.id);
    assert.equal(report.counts.skipped, 1);
    assert.equal(report.counts.sent, 2);
    assert.equal(fx.emulator.delivered(alice.personalConversationId).filter((d) => /Release/.test(activityText(d.activity))).length, 0);
    assert.equal(fx.emulator.delivered(bob.personalConversationId).filter((d) => /Release/.test(activityText(d.activity))).length, 1);
    const skipped = (await deliveries(fx, res.body.id)).find((d) => d.status === "skipped");
    assert.equal(skipped.reason, "opted out");

    // Another category still reaches Alice.
    const other = await fx.api("POST", "/api/notifications", { title: "Outage", text: "x", category: "incidents", audience: { kind: "installations", types: ["personal"] } });
    assert.equal((await completed(fx, other.body.id)).counts.sent, 3);
  });

  it("a time-zone group limits a run to recipients in that zone (what recipient-time schedules use)", async () => {
    const [alice, bob, carol] = fx.tenant.users;
    await fx.driver.message(alice, alice, "hi", { timeZone: "Asia/Tokyo" });
    await fx.driver.message(bob, bob, "hi", { timeZone: "America/New_York" });
    await fx.driver.message(carol, carol, "hi", { timeZone: "Asia/Tokyo" });
    fx.emulator.reset();
    const { job } = await fx.herald.notifications.create(
      { title: "Morning", text: "09:00 Tokyo", audience: { kind: "installations", types: ["personal"] } },
      { triggeredBy: "schedule:morning", timeZoneFilter: { zones: ["Asia/Tokyo"], includeUnknown: false } },
    );
    const report = await completed(fx, job.id);
    assert.equal(report.counts.total, 2);
    assert.equal(fx.emulator.delivered(bob.personalConversationId).length, 0);
    sinon.restore();
  });
});
