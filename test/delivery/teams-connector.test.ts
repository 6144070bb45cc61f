import assert from "node:assert/strict";
import type { ConversationReference } from "botbuilder";
import { BotFrameworkConnector, createCloudAdapter, stripRetryPolicy } from "../../src/delivery/teams-connector";
import { classifyTeamsError, describeFailure, retryAfterMsOf } from "../../src/delivery/teams-errors";
import type { ConnectorEmulator, FaultRule, SeededTenant } from "../../src/emulator";
import { startEmulator } from "./support";

/** What the connector throws for a request the emulator answers with `fault` (a real RestError from botbuilder). */
async function errorFor(emulator: ConnectorEmulator, connector: BotFrameworkConnector, tenant: SeededTenant, serviceUrl: string, fault: FaultRule): Promise<unknown> {
  const user = tenant.users[0];
  emulator.clearFaults();
  emulator.addFault({ ...fault, match: { route: "send", conversationId: user.personalConversationId }, times: 1 });
  try {
    await connector.sendActivity({ tenantId: tenant.tenantId, serviceUrl, conversationId: user.personalConversationId }, { type: "message", text: "x" });
  } catch (err) {
    return err;
  }
  throw new Error("expected the send to fail");
}

describe("delivery/teams-connector + teams-errors (against the connector emulator)", () => {
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  let tenant: SeededTenant;
  let connector: BotFrameworkConnector;

  before(async () => {
    ({ emulator, serviceUrl } = await startEmulator({ limits: false }));
    tenant = emulator.seed({ tenantId: "tenant-c", users: 60, teams: [{ name: "Ops", memberCount: 60, channels: 2 }] });
    connector = new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" });
  });
  after(() => emulator.stop());
  beforeEach(() => emulator.reset());

  it("sends into a conversation and returns Teams' activity id, without auth when there is no bot id", async () => {
    const user = tenant.users[1];
    const { activityId } = await connector.sendActivity(
      { tenantId: tenant.tenantId, serviceUrl, conversationId: user.personalConversationId }, { type: "message", text: "hello" });
    const delivered = emulator.delivered(user.personalConversationId);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].activityId, activityId);
    assert.equal((delivered[0].activity as { text?: string }).text, "hello");
    assert.equal(emulator.stats().authHeaderSeen, false);
  });

  it("creates a 1:1 conversation: the same id every time for the same user", async () => {
    const user = tenant.users[2];
    const first = await connector.createPersonalConversation(tenant.tenantId, serviceUrl, user.id);
    const second = await connector.createPersonalConversation(tenant.tenantId, serviceUrl, user.id);
    assert.equal(first, user.personalConversationId);
    assert.equal(second, first);
    assert.equal(emulator.stats().byRoute.create, 2);
  });

  it("creates a thread in a channel with the activity as its first post", async () => {
    const team = tenant.teams[0];
    const channel = team.channels[1];
    const created = await connector.createChannelThread(serviceUrl, tenant.tenantId, team.id, channel.id, { type: "message", text: "new thread" });
    assert.match(created.conversationId, new RegExp(`^${channel.id.replace(/[.]/g, "\\.")};messageid=`));
    const delivered = emulator.delivered(created.conversationId);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].activityId, created.activityId);
  });

  it("pages through a roster", async () => {
    const team = tenant.teams[0];
    const first = await connector.getPagedMembers(serviceUrl, tenant.tenantId, team.id, 50);
    assert.equal(first.members.length, 50);
    assert.ok(first.continuationToken);
    const second = await connector.getPagedMembers(serviceUrl, tenant.tenantId, team.id, 50, first.continuationToken);
    assert.equal(second.members.length, 10);
    assert.equal(second.continuationToken, undefined);
    assert.equal(new Set([...first.members, ...second.members].map((m) => m.id)).size, 60);
  });

  it("updates a message in place and deletes one, by activity id", async () => {
    const user = tenant.users[4];
    const recipient = { tenantId: tenant.tenantId, serviceUrl, conversationId: user.personalConversationId };
    const { activityId } = await connector.sendActivity(recipient, { type: "message", text: "v1" });
    await connector.updateActivity(recipient, activityId!, { type: "message", text: "v2" });
    const [update] = emulator.updatesOf(activityId!);
    assert.equal(update.activity?.text, "v2");
    assert.equal(update.activity?.id, activityId, "the activity carries its own id, as CloudAdapter.updateActivity sends it");
    assert.equal((update.activity?.conversation as { id: string }).id, user.personalConversationId);
    assert.equal(emulator.delivered(user.personalConversationId).length, 1);

    await connector.deleteActivity(recipient, activityId!);
    assert.deepEqual(emulator.deleted().map((d) => d.activityId), [activityId]);
    const again = await connector.deleteActivity(recipient, activityId!).then(() => undefined, (e: unknown) => e);
    assert.deepEqual(classifyTeamsError(again), { outcome: "failed", status: 404, code: "ActivityNotFoundInConversation", message: "Message does not exist in the thread." });
  });

  it("reads one member of a conversation: UPN, e-mail and AAD object id", async () => {
    const user = tenant.users[5];
    const member = await connector.getMember(serviceUrl, tenant.tenantId, user.personalConversationId, user.id);
    assert.equal(member.id, user.id);
    assert.equal(member.userPrincipalName, user.userPrincipalName);
    assert.equal(member.email, user.email);
    assert.equal(member.aadObjectId, user.aadObjectId);
    const missing = await connector.getMember(serviceUrl, tenant.tenantId, user.personalConversationId, tenant.users[6].id).then(() => undefined, (e: unknown) => e);
    assert.equal((classifyTeamsError(missing) as { status?: number }).status, 404);
  });

  it("update, delete and member reads make exactly one HTTP request on a 5xx (no hidden retry)", async () => {
    const user = tenant.users[7];
    const recipient = { tenantId: tenant.tenantId, serviceUrl, conversationId: user.personalConversationId };
    const { activityId } = await connector.sendActivity(recipient, { type: "message", text: "v1" });
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["update", () => connector.updateActivity(recipient, activityId!, { type: "message", text: "v2" })],
      ["delete", () => connector.deleteActivity(recipient, activityId!)],
      ["members", () => connector.getMember(serviceUrl, tenant.tenantId, user.personalConversationId, user.id)],
    ];
    for (const [route, call] of calls) {
      emulator.reset();
      emulator.addFault({ match: { route: route as "update" }, status: 503, retryAfterSeconds: 0, times: 1 });
      const err = await call().then(() => undefined, (e: unknown) => e);
      assert.equal(classifyTeamsError(err).outcome, "transient", route);
      assert.equal(emulator.stats().requests, 1, `${route}: one request`);
    }
  });

  it("makes exactly one HTTP request per call on a 5xx: botbuilder's retry policy is removed", async () => {
    // Retry-After 0 makes the default policy (if present) retry at once, so this stays fast either way.
    const err = await errorFor(emulator, connector, tenant, serviceUrl, { status: 503, retryAfterSeconds: 0 });
    assert.deepEqual(classifyTeamsError(err), { outcome: "transient", status: 503, code: "ServiceUnavailable", message: "Injected fault (503)." });
    assert.equal(emulator.stats().requests, 1);
  });

  it("(control) the same call through a stock botbuilder turn is retried by the HTTP pipeline", async () => {
    const user = tenant.users[3];
    emulator.addFault({ match: { route: "send", conversationId: user.personalConversationId }, status: 503, retryAfterSeconds: 0, times: 2 });
    const adapter = createCloudAdapter({});
    const reference: Partial<ConversationReference> = {
      channelId: "msteams", serviceUrl, conversation: { id: user.personalConversationId, tenantId: tenant.tenantId, isGroup: false, conversationType: "personal", name: "" },
    };
    await adapter.continueConversationAsync("", reference, async (ctx) => { await ctx.sendActivity("hi"); });
    // Two 503s swallowed and the third attempt delivered: the caller never knew, and Teams saw 3 requests.
    assert.equal(emulator.stats().requests, 3);
    assert.equal(emulator.delivered(user.personalConversationId).length, 1);
  });

  it("stripRetryPolicy refuses an object that is not a botbuilder ConnectorClient", () => {
    assert.throws(() => stripRetryPolicy({}), /no client\.pipeline/);
  });

  it("classifies by status and Teams code", async () => {
    const table: Array<[FaultRule, ReturnType<typeof classifyTeamsError>["outcome"], Record<string, unknown>]> = [
      [{ status: 429, retryAfterSeconds: 2 }, "throttled", { retryAfterMs: 2000 }],
      [{ status: 429, retryAfterSeconds: 0.25 }, "throttled", { retryAfterMs: 250 }],
      [{ status: 429 }, "throttled", { retryAfterMs: undefined }],
      [{ status: 412 }, "transient", { status: 412 }],
      [{ status: 502 }, "transient", { status: 502 }],
      [{ status: 503 }, "transient", { status: 503 }],
      [{ status: 504 }, "transient", { status: 504 }],
      [{ status: 500 }, "failed", { status: 500, code: "InternalServerError" }],
      [{ status: 400 }, "failed", { status: 400, code: "BadArgument" }],
      [{ status: 401 }, "failed", { status: 401 }],
      [{ status: 403, code: "BotNotInConversationRoster" }, "gone", { reason: "BotNotInConversationRoster", status: 403 }],
      [{ status: 403, code: "ConversationBlockedByUser" }, "gone", { reason: "ConversationBlockedByUser", status: 403 }],
      [{ status: 404, code: "ConversationNotFound" }, "gone", { reason: "ConversationNotFound", status: 404 }],
      // The code decides, not the status alone, and not the message:
      [{ status: 403, code: "Forbidden", message: "BotNotInConversationRoster" }, "failed", { status: 403, code: "Forbidden" }],
      [{ status: 404, code: "NotFound" }, "failed", { status: 404, code: "NotFound" }],
      [{ status: 400, code: "ConversationNotFound" }, "failed", { status: 400 }],
    ];
    for (const [fault, outcome, fields] of table) {
      const failure = classifyTeamsError(await errorFor(emulator, connector, tenant, serviceUrl, fault));
      assert.equal(failure.outcome, outcome, JSON.stringify(fault));
      for (const [k, v] of Object.entries(fields)) assert.equal((failure as Record<string, unknown>)[k], v, `${JSON.stringify(fault)} ${k}`);
    }
  });

  it("a real 404 for an unknown conversation is ConversationNotFound (gone)", async () => {
    const err = await connector.sendActivity({ tenantId: tenant.tenantId, serviceUrl, conversationId: "a:unknown" }, { type: "message", text: "x" })
      .then(() => undefined, (e: unknown) => e);
    assert.deepEqual(classifyTeamsError(err), { outcome: "gone", reason: "ConversationNotFound", status: 404 });
  });

  it("a refused connection is transient with status 0 (no HTTP answer)", async () => {
    const err = await connector.sendActivity({ tenantId: "t", serviceUrl: "http://127.0.0.1:1", conversationId: "a:1" }, { type: "message", text: "x" })
      .then(() => undefined, (e: unknown) => e);
    const failure = classifyTeamsError(err);
    assert.equal(failure.outcome, "transient");
    assert.equal((failure as { status: number }).status, 0);
    assert.match(describeFailure(failure), /^no response/);
  });

  it("reads Retry-After as seconds, as an HTTP date, and retry-after-ms first", () => {
    const withHeaders = (headers: Record<string, string>) => ({ statusCode: 429, response: { status: 429, headers } });
    assert.equal(retryAfterMsOf(withHeaders({ "Retry-After": "3" })), 3000);
    assert.equal(retryAfterMsOf(withHeaders({ "retry-after": new Date(10_000).toUTCString() }), 4000), 6000);
    assert.equal(retryAfterMsOf(withHeaders({ "retry-after": "5", "retry-after-ms": "120" })), 120);
    assert.equal(retryAfterMsOf(withHeaders({ "retry-after": "soon" })), undefined);
    assert.equal(retryAfterMsOf(withHeaders({})), undefined);
  });

  it("never classifies a non-HTTP programming error as retriable", () => {
    assert.deepEqual(classifyTeamsError(new TypeError("boom")), { outcome: "failed", code: undefined, message: "boom" });
  });
});
