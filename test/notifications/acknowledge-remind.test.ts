import { strict as assert } from "node:assert";
import type { SeededUser } from "../../src/emulator/types";
import { targetKey } from "../../src/store/types";
import { allDeliveries, reportWhen, storePersonalInstalls } from "../support/copies";
import { activityText, startHerald, type HeraldFixture } from "../support/herald-fixture";

const TENANT = "tenant-ack";
type Json = Record<string, any>;

const executeActions = (card: Json): Json[] => {
  const found: Json[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if ((node as Json).type === "Action.Execute") found.push(node as Json);
      Object.values(node).forEach(walk);
    }
  };
  walk(card);
  return found;
};

/**
 * Issue 11, item 3: the Acknowledge button records who acknowledged and when, answers with the card refreshed for
 * that person, the report counts them, `?acknowledged=false` lists the others, and `remind` reaches exactly those.
 */
describe("acknowledgements and reminders", function () {
  this.timeout(60_000);
  let fx: HeraldFixture;
  let users: SeededUser[];

  before(async () => {
    fx = await startHerald({ tenant: { tenantId: TENANT, users: 6 } });
    users = fx.tenant.users;
    await storePersonalInstalls(fx.store, fx.serviceUrl, users);
  });
  after(() => fx.stop());

  const copiesIn = (user: SeededUser) => fx.emulator.delivered(user.personalConversationId);
  const press = (user: SeededUser, notificationId: string, activityId: string) =>
    fx.driver.executeAction(user, user, { verb: "acknowledge", data: { herald: "acknowledge", notificationId } }, { replyToId: activityId });

  it("records each person once, answers with their refreshed card, counts and lists them; remind reaches only the others", async () => {
    const res = await fx.api("POST", "/api/notifications", {
      title: "New travel policy", text: "Read it before booking.", acknowledge: true, audience: { kind: "installations", types: ["personal"], tenantId: TENANT },
    });
    assert.equal(res.status, 202);
    const id = res.body.id as string;
    await reportWhen(fx, id, (r) => r.status === "completed", "the notification");
    const [alice, bob, carol, dave] = users;

    const first = await press(alice!, id, copiesIn(alice!)[0]!.activityId);
    assert.equal(first.status, 200);
    assert.equal(first.body.type, "application/vnd.microsoft.card.adaptive");
    const card = first.body.value as Json;
    assert.match(activityText(card), new RegExp(`Acknowledged at \\d\\d:\\d\\d on .* \\(${alice!.timeZone}\\) by ${alice!.name}`));
    assert.match(activityText(card), /New travel policy/);
    assert.equal(executeActions(card).length, 0, "no Acknowledge button once acknowledged");

    // Pressing again (another device): nothing new is recorded, the same time is shown.
    const stored = (await fx.store.jobs.getDelivery(id, targetKey(TENANT, alice!.personalConversationId)))!;
    assert.equal(stored.acknowledgedBy, alice!.name);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const again = await press(alice!, id, copiesIn(alice!)[0]!.activityId);
    assert.deepEqual(again.body.value, card);
    assert.equal((await fx.store.jobs.getDelivery(id, stored.recipientKey))!.acknowledgedAt, stored.acknowledgedAt);
    await press(bob!, id, copiesIn(bob!)[0]!.activityId);

    const report = (await fx.api("GET", `/api/notifications/${id}`)).body;
    assert.equal(report.counts.acknowledged, 2);
    const notYet = await allDeliveries(fx, id, "acknowledged=false");
    assert.deepEqual(notYet.map((d) => d.recipientKey).sort(), users.slice(2).map((u) => targetKey(TENANT, u.personalConversationId)).sort());
    const done = await allDeliveries(fx, id, "acknowledged=true");
    assert.deepEqual(done.map((d) => d.acknowledgedBy).sort(), [alice!.name, bob!.name].sort());
    assert.equal((await fx.api("GET", `/api/notifications/${id}/deliveries?acknowledged=maybe`)).status, 400);

    const remind = await fx.api("POST", `/api/notifications/${id}/remind`);
    assert.equal(remind.status, 202, JSON.stringify(remind.body));
    assert.deepEqual({ kind: remind.body.kind, parentId: remind.body.parentId, total: remind.body.counts.total }, { kind: "reminder", parentId: id, total: 4 });
    const reminderId = remind.body.id as string;
    await reportWhen(fx, reminderId, (r) => r.status === "completed", "the reminder");
    for (const user of [alice!, bob!]) assert.equal(copiesIn(user).length, 1, `${user.name} acknowledged: no reminder`);
    for (const user of users.slice(2)) {
      const copies = copiesIn(user);
      assert.equal(copies.length, 2, `${user.name} got the reminder`);
      assert.match(activityText(copies[1]!.activity), /Reminder: New travel policy/);
      assert.equal(executeActions(copies[1]!.activity as Json).length, 1, "the reminder can be acknowledged too");
    }

    // Acknowledging the reminder counts for the notification itself.
    const fromReminder = await press(carol!, reminderId, copiesIn(carol!)[1]!.activityId);
    assert.match(activityText(fromReminder.body.value), /Reminder: New travel policy/);
    assert.match(activityText(fromReminder.body.value), new RegExp(`Acknowledged at .* by ${carol!.name}`));
    assert.equal((await fx.api("GET", `/api/notifications/${id}`)).body.counts.acknowledged, 3);
    assert.equal((await fx.api("GET", `/api/notifications/${reminderId}`)).body.counts.acknowledged, 1);
    const second = await fx.api("POST", `/api/notifications/${id}/remind`, { idempotencyKey: `remind-2-${id}` });
    assert.equal(second.body.counts.total, 3);
    const replay = await fx.api("POST", `/api/notifications/${id}/remind`, { idempotencyKey: `remind-2-${id}` });
    assert.deepEqual({ id: replay.body.id, created: replay.body.created }, { id: second.body.id, created: false });
    await reportWhen(fx, second.body.id, (r) => r.status === "completed", "the second reminder");

    // An update keeps each person's acknowledgement on their copy; the others get the button with the new text.
    assert.equal((await fx.api("PATCH", `/api/notifications/${id}`, { text: "Read the new version before booking." })).status, 202);
    await reportWhen(fx, id, (r) => r.update.pending === 0, "the update");
    const aliceNow = fx.emulator.latestContent(copiesIn(alice!)[0]!.activityId) as Json;
    assert.match(activityText(aliceNow), /Read the new version/);
    assert.match(activityText(aliceNow), new RegExp(`Acknowledged at .* by ${alice!.name}`));
    assert.equal(executeActions(aliceNow).length, 0);
    const daveNow = fx.emulator.latestContent(copiesIn(dave!)[0]!.activityId) as Json;
    assert.match(activityText(daveNow), /Read the new version/);
    assert.equal(executeActions(daveNow).length, 1);
  });

  it("remind needs an Acknowledge button; a press on an unknown or retracted notification says so and records nothing", async () => {
    const plain = await fx.api("POST", "/api/notifications", { title: "FYI", text: "x", audience: { kind: "installations", types: ["personal"], tenantId: TENANT } });
    const refused = await fx.api("POST", `/api/notifications/${plain.body.id}/remind`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "not_acknowledgeable");
    assert.equal((await fx.api("POST", "/api/notifications/unknown/remind")).status, 404);
    assert.equal((await fx.api("POST", `/api/notifications/${plain.body.id}/remind`, { idempotencyKey: 7 })).status, 400);

    const user = users[5]!;
    const ghost = await press(user, "00000000-0000-4000-8000-000000000000", "1");
    assert.deepEqual({ status: ghost.status, type: ghost.body.type }, { status: 200, type: "application/vnd.microsoft.activity.message" });
    assert.match(ghost.body.value, /no longer exists/);

    const ack = await fx.api("POST", "/api/notifications", {
      title: "Withdrawn soon", text: "x", acknowledge: true, audience: { kind: "conversations", tenantId: TENANT, conversationIds: [user.personalConversationId] },
    });
    await reportWhen(fx, ack.body.id, (r) => r.status === "completed", "the notification");
    await fx.api("DELETE", `/api/notifications/${ack.body.id}`);
    const late = await press(user, ack.body.id, copiesIn(user).at(-1)!.activityId);
    assert.match(late.body.value, /withdrawn/);
    assert.equal((await fx.api("GET", `/api/notifications/${ack.body.id}`)).body.counts.acknowledged, 0);
    assert.equal((await fx.api("POST", `/api/notifications/${ack.body.id}/remind`)).body.error.code, "retracted");
  });
});
