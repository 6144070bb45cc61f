import { strict as assert } from "node:assert";
import type { AddressInfo } from "node:net";
import { TeamsActivityHandler, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type TurnContext } from "botbuilder";
import restify from "restify";
import {
  ACKNOWLEDGE_VERB, acknowledgedText, cardInvokeResponse, messageInvokeResponse, parseAcknowledgeAction,
} from "../src/cards/acknowledge";
import {
  REMINDER_PREFIX, buildNotificationCard, renderAcknowledgedActivity, renderNotificationActivity, renderReminderActivity,
} from "../src/cards/notification-card";
import { createCloudAdapter } from "../src/delivery/teams-connector";
import { ActivityDriver } from "../src/emulator/activity-driver";
import { seedTenant } from "../src/emulator/seed";
import { notificationRequestSchema } from "../src/delivery/notification-request";
import type { DeliveryRecipient, Job } from "../src/store/types";

const job = (content: Partial<Job["content"]> = {}): Job => ({
  id: "3b0c6a4e-1111-4222-8333-444455556666", status: "running", audience: { kind: "all" }, category: "policies", triggeredBy: "HR system",
  createdAt: "2026-03-10T08:00:00.000Z", updatedAt: "2026-03-10T08:00:00.000Z", total: 1, throttleRetries: 0, slices: [],
  content: { title: "New travel policy", text: "Read it before booking.", url: "https://hr.example.com/travel", acknowledge: true, ...content },
});
const recipient: DeliveryRecipient = { tenantId: "t", serviceUrl: "https://smba.example/", conversationId: "a:1", userId: "29:1" };

type Json = Record<string, any>;
const actionsOf = (card: Json) => (card.actions ?? []) as Json[];
const executeActions = (card: Json) => actionsOf(card).filter((a) => a.type === "Action.Execute");
const cardOf = (activity: Json) => activity.attachments[0].content as Json;

describe("cards: acknowledge, acknowledged and reminder views of one notification", () => {
  it("adds an Acknowledge button (Action.Execute, verb acknowledge, the notification id) only when asked", () => {
    const card = buildNotificationCard(job(), recipient);
    assert.equal(card.version, "1.5", "Universal Actions need Adaptive Cards 1.5");
    const [button] = executeActions(card);
    assert.deepEqual(button, {
      type: "Action.Execute", title: "Acknowledge", verb: "acknowledge", style: "positive",
      data: { herald: "acknowledge", notificationId: job().id },
    });
    assert.ok(actionsOf(card).some((a) => a.type === "Action.OpenUrl"), "the Open button stays");
    assert.equal(executeActions(buildNotificationCard(job({ acknowledge: undefined }), recipient)).length, 0);
    assert.equal(executeActions(buildNotificationCard(job({ acknowledge: true, card: { template: "alert", data: { severity: "critical", service: "db" } } }), recipient)).length, 1, "on every template");
  });

  it("the acknowledged view is the same card without the button and with who and when", () => {
    const original = buildNotificationCard(job(), recipient);
    const acknowledged = buildNotificationCard(job(), recipient, { acknowledged: { at: "2026-03-10T13:02:09.500Z", by: "Alex_Wilber [Ops]", timeZone: "Europe/Berlin" } });

    assert.equal(executeActions(acknowledged).length, 0);
    const status = acknowledged.body!.find((e: any) => e.type === "RichTextBlock") as Json;
    assert.equal(status.inlines[0].text, "Acknowledged at 14:02 on Tue, 10 Mar 2026 (Europe/Berlin) by Alex_Wilber [Ops]");
    assert.equal(status.inlines[0].type, "TextRun", "a TextRun is never read as markdown: the name shows as it is");

    const withoutButton = { ...original, actions: actionsOf(original).filter((a) => a.type !== "Action.Execute") };
    const withoutStatus = { ...acknowledged, body: acknowledged.body!.filter((e) => e !== status) };
    assert.deepEqual(withoutStatus, withoutButton, "nothing else differs");

    const activity = renderAcknowledgedActivity(job(), recipient, { at: new Date("2026-03-10T13:02:00Z"), by: "Alex" }) as Json;
    assert.match(JSON.stringify(cardOf(activity)), /Acknowledged at 13:02 on Tue, 10 Mar 2026 \(UTC\) by Alex/);
  });

  it("tells the time in the person's zone, across a DST change, and falls back to UTC for an unknown zone", () => {
    assert.equal(acknowledgedText({ at: "2026-03-29T00:30:00Z", by: "A", timeZone: "Europe/Berlin" }), "Acknowledged at 01:30 on Sun, 29 Mar 2026 (Europe/Berlin) by A");
    assert.equal(acknowledgedText({ at: "2026-03-29T01:30:00Z", by: "A", timeZone: "Europe/Berlin" }), "Acknowledged at 03:30 on Sun, 29 Mar 2026 (Europe/Berlin) by A");
    assert.equal(acknowledgedText({ at: "2026-03-29T01:30:00Z", by: "A", timeZone: "Mars/Olympus" }), "Acknowledged at 01:30 on Sun, 29 Mar 2026 (UTC) by A");
    assert.throws(() => acknowledgedText({ at: "yesterday", by: "A" }), /not a timestamp/);
  });

  it("the reminder is the same notification with the title prefixed, and keeps the Acknowledge button", () => {
    const original = renderNotificationActivity(job(), recipient) as Json;
    const reminder = renderReminderActivity(job(), recipient) as Json;
    assert.equal(reminder.summary, `${REMINDER_PREFIX}New travel policy`);
    assert.equal(cardOf(reminder).body[0].text, "Reminder: New travel policy");
    assert.equal(executeActions(cardOf(reminder)).length, 1);
    const sameRest = (card: Json) => ({ ...card, body: card.body.slice(1) });
    assert.deepEqual(sameRest(cardOf(reminder)), sameRest(cardOf(original)));

    const alert = renderReminderActivity(job({ card: { template: "alert", data: { severity: "warning", title: "Disk 90%" } } }), recipient) as Json;
    assert.match(JSON.stringify(cardOf(alert).body[0]), /WARNING: Reminder: Disk 90%/, "a template's own title is prefixed too");
  });

  it("parses an Acknowledge press and nothing else", () => {
    const press = (action: Json) => ({ action, trigger: "manual" }) as unknown as AdaptiveCardInvokeValue;
    assert.deepEqual(parseAcknowledgeAction(press({ type: "Action.Execute", verb: ACKNOWLEDGE_VERB, data: { herald: "acknowledge", notificationId: "n1" } })), { notificationId: "n1" });
    assert.equal(parseAcknowledgeAction(press({ type: "Action.Execute", verb: "refresh", data: { notificationId: "n1" } })), undefined);
    assert.equal(parseAcknowledgeAction(press({ type: "Action.Submit", verb: ACKNOWLEDGE_VERB, data: { notificationId: "n1" } })), undefined);
    assert.equal(parseAcknowledgeAction(press({ type: "Action.Execute", verb: ACKNOWLEDGE_VERB, data: {} })), undefined);
    assert.equal(parseAcknowledgeAction(undefined), undefined);
  });

  it("the request schema takes acknowledge as a boolean and names it when it is not one", () => {
    assert.equal(notificationRequestSchema.parse({ title: "t", text: "x", acknowledge: true }).acknowledge, true);
    const bad = notificationRequestSchema.safeParse({ title: "t", text: "x", acknowledge: "yes" });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error!.issues[0].path, ["acknowledge"]);
    assert.equal(bad.error!.issues[0].message, "acknowledge must be a boolean");
  });
});

describe("activity driver: pressing an Action.Execute button (a real botbuilder bot answers the invoke)", () => {
  const tenant = seedTenant({ tenantId: "tenant-invoke", users: 3, teams: [{ name: "Ops", memberCount: 3, channels: 1 }] });
  const alex = tenant.users[0];
  let server: restify.Server;
  let driver: ActivityDriver;
  let heard: Json[];

  /** Answers Acknowledge with the acknowledged view of the card it was pressed on, as Herald will. */
  class AcknowledgingBot extends TeamsActivityHandler {
    protected override async onAdaptiveCardInvoke(context: TurnContext, value: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
      heard.push(context.activity as Json);
      const press = parseAcknowledgeAction(value);
      if (!press) return messageInvokeResponse("That button is not one of Herald's.");
      const at = new Date(Date.parse(context.activity.timestamp as unknown as string));
      return cardInvokeResponse(buildNotificationCard(job(), recipient, {
        acknowledged: { at, by: context.activity.from.name, timeZone: context.activity.localTimezone },
      }));
    }
  }

  before(async () => {
    const adapter = createCloudAdapter({});
    const bot = new AcknowledgingBot();
    server = restify.createServer({ handleUncaughtExceptions: false });
    server.post("/api/messages", restify.plugins.bodyParser({ mapParams: false }), async (req: restify.Request, res: restify.Response) => {
      await adapter.process(req, res, (context) => bot.run(context));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    driver = new ActivityDriver({ botEndpoint: `http://127.0.0.1:${port}/api/messages`, serviceUrl: "http://127.0.0.1:1", now: () => Date.UTC(2026, 2, 10, 13, 2, 0) });
  });
  beforeEach(() => { heard = []; });
  after(async () => {
    driver.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("posts an adaptiveCard/action invoke from the person, replying to the message, and returns the bot's synchronous answer", async () => {
    const card = buildNotificationCard(job(), recipient);
    const [button] = executeActions(card);
    const result = await driver.executeAction(alex, alex, { verb: button.verb, data: button.data }, { replyToId: "1700000000123" });

    assert.equal(result.status, 200);
    assert.equal(result.body.statusCode, 200);
    assert.equal(result.body.type, "application/vnd.microsoft.card.adaptive");
    assert.deepEqual(result.body.value, buildNotificationCard(job(), recipient, {
      acknowledged: { at: "2026-03-10T13:02:00Z", by: alex.name, timeZone: alex.timeZone },
    }), "the card refreshed for Alex, in Alex's time zone");

    const [invoke] = heard;
    assert.equal(invoke.type, "invoke");
    assert.equal(invoke.name, "adaptiveCard/action");
    assert.deepEqual(invoke.value, { action: { type: "Action.Execute", verb: "acknowledge", data: { herald: "acknowledge", notificationId: job().id } }, trigger: "manual" });
    assert.equal(invoke.replyToId, "1700000000123");
    assert.equal(invoke.channelData.legacy.replyToId, "1700000000123");
    assert.equal(invoke.from.id, alex.id);
    assert.equal(invoke.from.aadObjectId, alex.aadObjectId);
    assert.equal(invoke.conversation.id, alex.personalConversationId);
    assert.equal(invoke.conversation.conversationType, "personal");
    assert.equal(invoke.localTimezone, alex.timeZone);
  });

  it("works in a channel thread and returns whatever the bot answers (a message here)", async () => {
    const team = tenant.teams[0];
    const result = await driver.executeAction({ team, channelId: team.id, messageId: "1700000000999" }, tenant.users[1], { verb: "something-else", data: { x: 1 }, id: "act-1" }, { replyToId: "1700000000999" });
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { statusCode: 200, type: "application/vnd.microsoft.activity.message", value: "That button is not one of Herald's." });
    assert.equal(heard[0].conversation.id, `${team.id};messageid=1700000000999`);
    assert.equal(heard[0].value.action.id, "act-1");
  });
});
