import { strict as assert } from "node:assert";
import { targetKey } from "../../src/store/types";
import { allDeliveries, reportWhen, storePersonalInstalls } from "../support/copies";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";

const TENANT = "tenant-retry";

/** Issue 11, items 5 and 7. */
describe("retry of failed deliveries, and gone is gone for every audience", function () {
  this.timeout(60_000);
  let fx: HeraldFixture;

  before(async () => {
    // Team 1's roster is users 7-14: nobody the first test touches.
    fx = await startHerald({ tenant: { tenantId: TENANT, users: 15, teams: [{ name: "Everyone", memberCount: 7 }, { name: "Support", memberCount: 8 }] } });
  });
  after(() => fx.stop());
  beforeEach(() => {
    fx.emulator.reset();
  });

  it("POST …/retry sends the failed deliveries again — only those: not the sent, gone, skipped or cancelled ones", async () => {
    const users = fx.tenant.users.slice(0, 6);
    await storePersonalInstalls(fx.store, fx.serviceUrl, users);
    const [flaky1, flaky2, blocker, quiet, ok1, ok2] = users;
    for (const user of [flaky1!, flaky2!]) fx.emulator.addFault({ match: { route: "send", conversationId: user.personalConversationId }, status: 500, times: 1 });
    fx.emulator.addFault({ match: { route: "send", conversationId: blocker!.personalConversationId }, status: 403, code: "ConversationBlockedByUser" });
    await fx.store.preferences.optOut(TENANT, quiet!.aadObjectId, "*");

    const res = await fx.api("POST", "/api/notifications", {
      title: "Payroll run", text: "Payslips are out.", audience: { kind: "conversations", tenantId: TENANT, conversationIds: users.map((u) => u.personalConversationId) },
    });
    const first = await reportWhen(fx, res.body.id, (r) => r.status === "completed", "the first run");
    assert.deepEqual({ sent: first.counts.sent, failed: first.counts.failed, gone: first.counts.gone, skipped: first.counts.skipped }, { sent: 2, failed: 2, gone: 1, skipped: 1 });
    const faultsBefore = fx.emulator.stats().faultsInjected;
    assert.equal(faultsBefore, 3);

    const retry = await fx.api("POST", `/api/notifications/${res.body.id}/retry`);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal(retry.body.requeued, 2);
    assert.equal(retry.body.status, "running");
    const after = await reportWhen(fx, res.body.id, (r) => r.status === "completed", "the retry");
    assert.deepEqual({ sent: after.counts.sent, failed: after.counts.failed, gone: after.counts.gone, skipped: after.counts.skipped }, { sent: 4, failed: 0, gone: 1, skipped: 1 });
    assert.equal(after.finishedAt !== undefined && after.error === undefined, true);

    for (const user of [flaky1!, flaky2!, ok1!, ok2!]) assert.equal(fx.emulator.delivered(user.personalConversationId).length, 1, `${user.name}: exactly one copy`);
    assert.equal(fx.emulator.delivered(quiet!.personalConversationId).length, 0);
    assert.equal(fx.emulator.stats().faultsInjected, faultsBefore, "the gone conversation was not tried again");
    const retried = (await allDeliveries(fx, res.body.id)).find((d) => d.recipientKey === targetKey(TENANT, flaky1!.personalConversationId));
    assert.equal(retried.attempts, 1, "attempts start again with the retry");

    const nothing = await fx.api("POST", `/api/notifications/${res.body.id}/retry`);
    assert.equal(nothing.status, 409);
    assert.equal(nothing.body.error.code, "nothing_to_retry");
    assert.equal((await fx.api("POST", "/api/notifications/unknown/retry")).status, 404);
  });

  it("a person who blocked Herald, reached through a team-members audience, is not tried again by the next team broadcast", async () => {
    const team = fx.tenant.teams[1]!;
    const owner = fx.tenant.users.find((u) => u.id === team.memberIds[0])!;
    const blocker = fx.tenant.users.find((u) => u.id === team.memberIds[7])!;
    await fx.driver.installTeam(team, owner);
    await fx.rostersSynced();
    fx.emulator.reset();
    fx.emulator.addFault({ match: { route: "send", userId: blocker.id }, status: 403, code: "ConversationBlockedByUser" });
    const teamBroadcast = async (title: string) => {
      const res = await fx.api("POST", "/api/notifications", { title, text: "x", audience: { kind: "teamMembers", teamId: team.id } });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return reportWhen(fx, res.body.id, (r) => r.status === "completed", title);
    };

    const first = await teamBroadcast("Town hall");
    assert.deepEqual({ sent: first.counts.sent, gone: first.counts.gone }, { sent: 7, gone: 1 });
    assert.equal(fx.emulator.stats().faultsInjected, 1);
    assert.equal((await fx.store.members.get(TENANT, blocker.id))?.personalChatGone, "ConversationBlockedByUser");

    const second = await teamBroadcast("Town hall, part 2");
    assert.deepEqual({ sent: second.counts.sent, skipped: second.counts.skipped, gone: second.counts.gone }, { sent: 7, skipped: 1, gone: 0 });
    assert.equal(fx.emulator.stats().faultsInjected, 1, "no request was made for the person who blocked Herald");
    const skipped = (await allDeliveries(fx, second.id)).find((d) => d.status === "skipped");
    assert.equal(skipped.recipientKey, `user:${TENANT}:${blocker.id}`);
    assert.match(skipped.reason, /gone: ConversationBlockedByUser/);

    // Chosen by UPN: skipped the same way.
    const chosen = await fx.api("POST", "/api/notifications", { title: "For you", text: "x", audience: { kind: "users", users: [{ upn: blocker.userPrincipalName }], tenantId: TENANT } });
    assert.equal((await reportWhen(fx, chosen.body.id, (r) => r.status === "completed", "the users audience")).counts.skipped, 1);

    // They install Herald again: reachable again.
    fx.emulator.clearFaults();
    await fx.driver.installPersonal(blocker);
    await fx.rostersSynced();
    const third = await teamBroadcast("Town hall, part 3");
    assert.equal(third.counts.sent, 8);
  });
});
