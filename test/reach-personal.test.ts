import { strict as assert } from "node:assert";
import { backfillMembers } from "../src/cli/backfill-members-command";
import type { SeededUser } from "../src/emulator/types";
import { targetKey } from "../src/store/types";
import { eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";

const TENANT = "tenant-upn";

async function finished(fx: HeraldFixture, id: string): Promise<any> {
  return eventually(async () => {
    const r = await fx.api("GET", `/api/notifications/${id}`);
    return ["completed", "failed"].includes(r.body.status) ? r.body : undefined;
  }, `notification ${id} to finish`);
}

/**
 * Issue 11, item 6: a person who installed Herald only in personal scope, and is in no team Herald knows, is
 * reachable by UPN in a `users` audience — Herald reads their member record at install (and backfill-members
 * reads it for installs stored before).
 */
describe("reach by UPN: people who installed Herald only in their personal chat", function () {
  this.timeout(30_000);
  let fx: HeraldFixture;
  let loner: SeededUser;

  before(async () => {
    // Team 0's roster is users 0..3; users 4 and 5 are in no team.
    fx = await startHerald({ tenant: { tenantId: TENANT, users: 6, teams: [{ name: "Ops", memberCount: 4 }] } });
    loner = fx.tenant.users[4];
    assert.ok(!fx.tenant.teams[0].memberIds.includes(loner.id));
  });
  after(() => fx.stop());
  beforeEach(() => fx.emulator.reset());

  const notifyByUpn = async (user: SeededUser, title: string) => {
    const res = await fx.api("POST", "/api/notifications", {
      title, text: "for you", audience: { kind: "users", users: [{ upn: user.userPrincipalName.toUpperCase() }], tenantId: TENANT },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return finished(fx, res.body.id);
  };

  it("is found by UPN after installing and receives the notification in their 1:1 chat", async () => {
    assert.equal(await fx.driver.installPersonal(loner), 200);
    await fx.rostersSynced();
    fx.emulator.reset();

    const report = await notifyByUpn(loner, "Personal only");
    assert.deepEqual({ total: report.counts.total, sent: report.counts.sent, skipped: report.counts.skipped }, { total: 1, sent: 1, skipped: 0 });
    const got = fx.emulator.delivered(loner.personalConversationId);
    assert.equal(got.length, 1);
    assert.match(JSON.stringify(got[0].activity), /Personal only/);
    assert.equal(fx.emulator.stats().byRoute.create ?? 0, 0, "the chat from the install is reused");
  });

  it("someone stored before Herald read member records is skipped, until backfill-members fills the UPN in", async () => {
    const early = fx.tenant.users[5];
    // What an install recorded by an earlier Herald left behind: the target and a member without UPN.
    const key = targetKey(TENANT, early.personalConversationId);
    await fx.store.targets.upsert({
      key, kind: "personal", tenantId: TENANT, conversationId: early.personalConversationId, serviceUrl: fx.serviceUrl,
      reference: { serviceUrl: fx.serviceUrl, channelId: "msteams", conversation: { id: early.personalConversationId, tenantId: TENANT, conversationType: "personal", isGroup: false, name: "" } },
      userId: early.id, aadObjectId: early.aadObjectId, name: early.name,
    });
    await fx.store.members.upsertMembers(key, [{ tenantId: TENANT, userId: early.id, serviceUrl: fx.serviceUrl, aadObjectId: early.aadObjectId, personalConversationId: early.personalConversationId }]);

    const before = await notifyByUpn(early, "Before backfill");
    assert.equal(before.counts.skipped, 1);
    assert.equal(fx.emulator.delivered(early.personalConversationId).length, 0);

    const readMember = (...args: Parameters<typeof fx.herald.engine.getMember>) => fx.herald.engine.getMember(...args);
    const result = await backfillMembers(fx.store, readMember, { tenantId: TENANT });
    assert.equal(result.filled, 1, JSON.stringify(result));
    assert.equal(result.alreadyKnown, 1, "the person who installed after the change already has a UPN");
    assert.deepEqual(result.failed, []);

    const after = await notifyByUpn(early, "After backfill");
    assert.equal(after.counts.sent, 1);
    assert.equal(fx.emulator.delivered(early.personalConversationId).length, 1);

    const reads = fx.emulator.stats().byRoute.members;
    const again = await backfillMembers(fx.store, readMember, { tenantId: TENANT });
    assert.deepEqual({ filled: again.filled, alreadyKnown: again.alreadyKnown }, { filled: 0, alreadyKnown: 2 });
    assert.equal(fx.emulator.stats().byRoute.members, reads, "a second run reads nobody");
  });
});
