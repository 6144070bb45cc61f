import { strict as assert } from "node:assert";
import type { DeliveredActivity } from "../../src/emulator/types";
import { targetKey } from "../../src/store/types";
import { allDeliveries, PostedContent, reportWhen, storePersonalInstalls } from "../support/copies";
import { activityText, startHerald, type HeraldFixture } from "../support/herald-fixture";

const TENANT = "tenant-edits";
const TIME_SCALE = 0.1;

/**
 * Issue 11, items 1 and 2: PATCH updates every delivered copy in place (and copies not sent yet go out with the new
 * content); DELETE cancels what is pending and deletes every delivered copy. Teams' limits are on (scaled ten times
 * faster) and requests take 100 ms, so a broadcast has plenty in flight when the change arrives.
 */
describe("notifications after sending: update every copy (PATCH) and retract (DELETE)", function () {
  this.timeout(120_000);
  let fx: HeraldFixture;
  let posted: PostedContent;

  before(async () => {
    posted = new PostedContent();
    fx = await startHerald({
      emulator: { limits: true, timeScale: TIME_SCALE, latencyMs: 100 },
      tenant: { tenantId: TENANT, users: 500 },
      overrides: { engine: { connector: posted, timeScale: TIME_SCALE, progressIntervalMs: 0 } },
    });
    await storePersonalInstalls(fx.store, fx.serviceUrl, fx.tenant.users);
  });
  after(() => fx.stop());

  const broadcast = async (title: string, text: string, extra: Record<string, unknown> = {}) => {
    const res = await fx.api("POST", "/api/notifications", { title, text, audience: { kind: "installations", types: ["personal"], tenantId: TENANT }, ...extra });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  /** This notification's copies (by the text it was first posted with). */
  const copiesOf = (marker: string): DeliveredActivity[] =>
    fx.emulator.delivered().filter((d) => posted.posted.get(d.activityId)?.includes(marker));

  it("PATCH of a 500-person broadcast mid-send updates each delivered copy exactly once, including copies that left with the old content after the PATCH", async () => {
    const id = await broadcast("Incident 42: payments degraded", "old-42: we are investigating.");
    await reportWhen(fx, id, (r) => r.counts.sent >= 150, "a third of the broadcast", 30_000);

    const patch = await fx.api("PATCH", `/api/notifications/${id}`, { title: "Incident 42: resolved", text: "new-42: payments are back to normal." });
    // Requests in flight with the old content when the PATCH was answered: their copies are recorded later.
    const inFlight = (await fx.store.jobs.listDeliveriesByStatus(id, ["sending"], 1000, undefined, undefined, { contentVersionBelow: 2 }))
      .map((d) => d.recipient.conversationId!);
    assert.equal(patch.status, 202, JSON.stringify(patch.body));
    assert.equal(patch.body.contentVersion, 2);
    assert.equal(patch.body.update.version, 2);

    const report = await reportWhen(fx, id, (r) => r.status === "completed" && r.update.pending === 0 && r.update.updated === 500, "every copy at version 2");
    assert.deepEqual(report.update, { version: 2, updated: 500, pending: 0, failed: 0 });
    assert.equal(report.counts.sent, 500);

    let updatedInPlace = 0;
    let sentWithNew = 0;
    for (const user of fx.tenant.users) {
      const [copy, ...extra] = fx.emulator.delivered(user.personalConversationId);
      assert.ok(copy, `${user.id} got the notification`);
      assert.equal(extra.length, 0, `${user.id} got one copy`);
      const first = posted.posted.get(copy.activityId)!;
      const updates = fx.emulator.updatesOf(copy.activityId).length;
      assert.match(activityText(fx.emulator.latestContent(copy.activityId)), /new-42: payments are back to normal/, `${user.id} now sees the new content`);
      if (first.includes("old-42")) {
        assert.equal(updates, 1, `${user.id}'s copy (posted with the old content) was updated exactly once`);
        updatedInPlace++;
      } else {
        assert.match(first, /new-42/);
        assert.equal(updates, 0, `${user.id}'s copy went out with the new content and was not updated`);
        sentWithNew++;
      }
    }
    assert.ok(updatedInPlace >= 150 && sentWithNew > 0, `${updatedInPlace} updated in place, ${sentWithNew} sent with the new content`);
    console.log(`      ${updatedInPlace} updated in place (${inFlight.length} of them in flight at the PATCH), ${sentWithNew} sent with the new content`);
    assert.ok(inFlight.length > 0, "some copies were in flight with the old content when the PATCH was answered");
    for (const conversationId of inFlight) {
      const [copy] = fx.emulator.delivered(conversationId);
      assert.match(posted.posted.get(copy!.activityId)!, /old-42/);
      assert.equal(fx.emulator.updatesOf(copy!.activityId).length, 1, `${conversationId}: in flight at the PATCH, updated once after`);
    }
    const deliveries = await allDeliveries(fx, id);
    assert.ok(deliveries.every((d) => d.contentVersion === 2 && d.copy === undefined));
  });

  it("DELETE removes every delivered copy, once; a second DELETE changes nothing", async () => {
    const id = await broadcast("Wrong audience", "retract-me: this was not for you.");
    await reportWhen(fx, id, (r) => r.status === "completed", "the broadcast");
    const deletesBefore = fx.emulator.stats().byRoute.delete ?? 0;
    const throttledBefore = fx.emulator.stats().throttled;

    const res = await fx.api("DELETE", `/api/notifications/${id}`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.ok(res.body.retract.retractedAt);
    const report = await reportWhen(fx, id, (r) => r.retract.pending === 0, "every copy deleted");
    assert.deepEqual({ deleted: report.retract.deleted, failed: report.retract.failed }, { deleted: 500, failed: 0 });
    assert.equal(report.status, "completed", "a finished notification keeps its status; the report says it was retracted");

    const copies = copiesOf("retract-me");
    assert.equal(copies.length, 500);
    assert.ok(copies.every((c) => c.deletedAt !== undefined), "every copy deleted");
    // At a tenth of Teams' time scale a few deletes can meet a 429 (Teams did nothing; they are sent again): every
    // other delete request is one copy's, once.
    const answered = fx.emulator.stats().byRoute.delete! - deletesBefore - (fx.emulator.stats().throttled - throttledBefore);
    assert.equal(answered, 500, "one accepted delete request per copy");

    const again = await fx.api("DELETE", `/api/notifications/${id}`);
    assert.equal(again.status, 202);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await fx.herald.engine.idle();
    assert.equal(fx.emulator.stats().byRoute.delete! - deletesBefore - (fx.emulator.stats().throttled - throttledBefore), 500, "nothing deleted twice");
    assert.equal((await fx.api("PATCH", `/api/notifications/${id}`, { text: "too late" })).status, 409);
  });

  it("DELETE mid-broadcast cancels what is pending and deletes every copy that went out, including those in flight", async () => {
    const id = await broadcast("Mistake", "mid-retract: ignore this.");
    await reportWhen(fx, id, (r) => r.counts.sent >= 100, "a fifth of the broadcast", 30_000);
    const res = await fx.api("DELETE", `/api/notifications/${id}`);
    assert.equal(res.status, 202);
    assert.equal(res.body.status, "cancelled");
    const report = await reportWhen(fx, id, (r) => r.retract.pending === 0 && r.counts.pending === 0, "the retraction");
    assert.equal(report.counts.sent + report.counts.cancelled, 500);
    assert.ok(report.counts.cancelled > 0, "some deliveries never went out");
    assert.equal(report.retract.deleted, report.counts.sent);
    const copies = copiesOf("mid-retract");
    assert.equal(copies.length, report.counts.sent, "every copy that reached Teams is known");
    assert.ok(copies.every((c) => c.deletedAt !== undefined), "and deleted");
  });

  it("a copy whose conversation is gone is reported, not retried, and the conversation is pruned; a copy already deleted in Teams is reported", async () => {
    const [blocker, vanished] = fx.tenant.users.slice(0, 2);
    const id = await broadcast("Heads up", "gone-test: v1", { audience: { kind: "conversations", tenantId: TENANT, conversationIds: fx.tenant.users.slice(0, 5).map((u) => u.personalConversationId) } });
    await reportWhen(fx, id, (r) => r.status === "completed", "the broadcast");
    fx.emulator.addFault({ match: { route: "update", conversationId: blocker.personalConversationId }, status: 403, code: "ConversationBlockedByUser" });
    // Someone deleted the message in Teams already (another bot call, a retention policy).
    const vanishedCopy = fx.emulator.delivered(vanished.personalConversationId).find((d) => posted.posted.get(d.activityId)?.includes("gone-test"))!;
    await fetch(`${fx.serviceUrl}/v3/conversations/${encodeURIComponent(vanished.personalConversationId)}/activities/${vanishedCopy.activityId}`, { method: "DELETE" });
    const updatesBefore = fx.emulator.stats().byRoute.update ?? 0;

    assert.equal((await fx.api("PATCH", `/api/notifications/${id}`, { text: "gone-test: v2" })).status, 202);
    const report = await reportWhen(fx, id, (r) => r.update.pending === 0, "the update");
    assert.deepEqual(report.update, { version: 2, updated: 3, pending: 0, failed: 2 });
    const byKey = new Map((await allDeliveries(fx, id)).map((d) => [d.recipientKey, d]));
    const blocked = byKey.get(targetKey(TENANT, blocker.personalConversationId));
    assert.equal(blocked.copy, "gone");
    assert.match(blocked.copyReason, /update to version 2: 403 ConversationBlockedByUser/);
    const gone = byKey.get(targetKey(TENANT, vanished.personalConversationId));
    assert.equal(gone.copy, "updateFailed");
    assert.match(gone.copyReason, /no longer exists in Teams \(404 ActivityNotFoundInConversation\)/);
    // One request for each of the five copies: the 403 and the 404 were not retried.
    assert.equal(fx.emulator.stats().byRoute.update! - updatesBefore, 5);
    assert.equal((await fx.store.targets.get(targetKey(TENANT, blocker.personalConversationId)))?.status, "gone");
    assert.equal((await fx.store.targets.get(targetKey(TENANT, vanished.personalConversationId)))?.status, "active", "a missing message does not prune the conversation");
    fx.emulator.clearFaults();
  });

  it("answers 404 for an unknown notification, 400 naming the field, 409 for a cancelled one", async () => {
    assert.equal((await fx.api("PATCH", "/api/notifications/nope", { text: "x" })).status, 404);
    assert.equal((await fx.api("DELETE", "/api/notifications/nope")).status, 404);
    const id = await broadcast("Later", "cancel-me", { audience: { kind: "conversations", tenantId: TENANT, conversationIds: [fx.tenant.users[9].personalConversationId] } });
    const cases: Array<[unknown, RegExp]> = [
      [{}, /at least one of title, text, url, card/],
      [{ url: "ftp://x" }, /^url:/],
      [{ title: "" }, /^title: title must not be empty/],
      [{ card: { template: "nope", data: {} } }, /card\.template: unknown template "nope"/],
      [{ acknowledge: true }, /unknown field\(s\): acknowledge/],
    ];
    for (const [body, expected] of cases) {
      const res = await fx.api("PATCH", `/api/notifications/${id}`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error.message, expected);
    }
    assert.equal((await fx.api("GET", `/api/notifications/${id}`)).body.contentVersion, 1, "a refused PATCH changes nothing");
    await reportWhen(fx, id, (r) => r.status === "completed", "the small one");
    const cancelled = await broadcast("Cancelled", "x", { deliverWithin: { start: "00:00", end: "00:01", days: ["sun"] } });
    assert.equal((await fx.api("POST", `/api/notifications/${cancelled}/cancel`)).status, 200);
    const conflict = await fx.api("PATCH", `/api/notifications/${cancelled}`, { text: "y" });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "cancelled");
  });
});
