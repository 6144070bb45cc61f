import { strict as assert } from "node:assert";
import http from "node:http";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import type { EmulatorOptions, SeededTenant } from "../src/emulator/types";

/**
 * The emulator's update (PUT) and delete (DELETE) of a message the bot posted: Teams' answers, the recorded
 * history tests assert on, and the same rate limits and faults as sends.
 */
const TENANT = "tenant-edits";
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
after(() => agent.destroy());

interface Res { status: number; body: any; headers: http.IncomingHttpHeaders }

function call(base: string, method: string, path: string, body?: unknown): Promise<Res> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method, agent, headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

const enc = encodeURIComponent;
const activities = (conversationId: string) => `/v3/conversations/${enc(conversationId)}/activities`;
const message = (text: string) => ({ type: "message", text });

describe("emulator: update and delete activity", () => {
  let emulator: ConnectorEmulator;
  let tenant: SeededTenant;
  let url: string;
  let now = 0;

  const start = async (options: EmulatorOptions = {}) => {
    now = 5_000_000;
    emulator = new ConnectorEmulator({ now: () => now, ...options });
    tenant = emulator.seed({ tenantId: TENANT, users: 4, teams: [{ name: "Ops", memberCount: 3, channels: 2 }] });
    url = await emulator.start();
  };
  afterEach(() => emulator.stop());

  const post = async (conversationId: string, text: string): Promise<string> => {
    const res = await call(url, "POST", activities(conversationId), message(text));
    assert.equal(res.status, 201);
    return res.body.id;
  };

  it("records each update with its time and content; the message shows the latest", async () => {
    await start({ limits: false });
    const conv = tenant.users[0].personalConversationId;
    const id = await post(conv, "v1");
    const other = await post(tenant.users[1].personalConversationId, "untouched");

    now += 1000;
    const first = await call(url, "PUT", `${activities(conv)}/${id}`, message("v2"));
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { id });
    now += 1000;
    assert.equal((await call(url, "PUT", `${activities(conv)}/${id}`, message("v3"))).status, 200);

    assert.deepEqual(emulator.updatesOf(id).map((u) => [u.at, u.activity?.text]), [[5_001_000, "v2"], [5_002_000, "v3"]]);
    assert.equal(emulator.latestContent(id)?.text, "v3");
    const record = emulator.activity(id)!;
    assert.equal(record.updates, 2);
    assert.equal(record.at, 5_000_000, "the post time stays");
    assert.equal(emulator.delivered(conv).length, 1, "an update is not a new message");
    assert.equal(emulator.updatesOf(other).length, 0);
    assert.equal(emulator.stats().updated, 2);
    assert.equal(emulator.stats().byRoute.update, 2);

    const overHttp = await call(url, "GET", `/_emulator/activities/${id}`);
    assert.equal(overHttp.status, 200);
    assert.deepEqual(overHttp.body.history.map((u: any) => u.activity.text), ["v2", "v3"]);
    assert.equal((await call(url, "GET", "/_emulator/activities/404404")).status, 404);
  });

  it("answers 404 ActivityNotFoundInConversation for a message not in that thread, 404 ConversationNotFound for an unknown conversation, 400 without a body", async () => {
    await start({ limits: false });
    const conv = tenant.users[0].personalConversationId;
    const id = await post(conv, "mine");

    for (const method of ["PUT", "DELETE"]) {
      const unknown = await call(url, method, `${activities(conv)}/1234`, message("x"));
      assert.equal(unknown.status, 404, method);
      assert.deepEqual(unknown.body.error, { code: "ActivityNotFoundInConversation", message: "Message does not exist in the thread." });
      const elsewhere = await call(url, method, `${activities(tenant.users[1].personalConversationId)}/${id}`, message("x"));
      assert.equal(elsewhere.status, 404, `${method}: the id exists, but in another conversation`);
      assert.equal(elsewhere.body.error.code, "ActivityNotFoundInConversation");
      const noConversation = await call(url, method, `${activities("a:nobody")}/${id}`, message("x"));
      assert.equal(noConversation.status, 404);
      assert.equal(noConversation.body.error.code, "ConversationNotFound");
    }
    const empty = await call(url, "PUT", `${activities(conv)}/${id}`);
    assert.equal(empty.status, 400);
    assert.equal((await call(url, "PUT", `${activities(conv)}/${id}`, { type: "typing" })).status, 400);
    assert.equal(emulator.activity(id)!.updates, 0);
    assert.equal(emulator.deleted().length, 0);
  });

  it("deletes: the message is listed as deleted, no longer visible, and cannot be updated or deleted again", async () => {
    await start({ limits: false });
    const conv = tenant.users[2].personalConversationId;
    const keep = await post(conv, "keep");
    const gone = await post(conv, "retract me");
    now += 250;
    const res = await call(url, "DELETE", `${activities(conv)}/${gone}`);
    assert.equal(res.status, 200);

    assert.deepEqual(emulator.deleted().map((d) => [d.activityId, d.deletedAt]), [[gone, 5_000_250]]);
    assert.deepEqual(emulator.deleted(conv).map((d) => d.activityId), [gone]);
    assert.deepEqual(emulator.visible(conv).map((d) => d.activityId), [keep]);
    assert.equal(emulator.delivered(conv).length, 2, "delivered() still lists what was posted");
    assert.equal(emulator.stats().deleted, 1);
    assert.equal((await call(url, "DELETE", `${activities(conv)}/${gone}`)).status, 404);
    assert.equal((await call(url, "PUT", `${activities(conv)}/${gone}`, message("too late"))).status, 404);
    assert.equal(emulator.latestContent(gone)?.text, "retract me");

    const overHttp = await call(url, "GET", "/_emulator/deleted");
    assert.equal(overHttp.body.count, 1);
    assert.equal(overHttp.body.deleted[0].activityId, gone);
  });

  it("a message in a channel thread is addressed through the thread or its channel", async () => {
    await start({ limits: false });
    const channel = tenant.teams[0].channels[1].id;
    const created = await call(url, "POST", "/v3/conversations", {
      isGroup: true, channelData: { channel: { id: channel }, tenant: { id: TENANT } }, activity: message("root"),
    });
    const thread = created.body.id as string;
    const reply = await post(thread, "reply");
    assert.equal((await call(url, "PUT", `${activities(thread)}/${created.body.activityId}`, message("root v2"))).status, 200);
    assert.equal((await call(url, "PUT", `${activities(channel)}/${reply}`, message("reply v2"))).status, 200);
    assert.equal(emulator.latestContent(created.body.activityId)?.text, "root v2");
    assert.equal(emulator.latestContent(reply)?.text, "reply v2");
    assert.equal((await call(url, "PUT", `${activities(tenant.teams[0].id)}/${reply}`, message("x"))).status, 404, "another channel");
  });

  it("updates and deletes count in the thread's send windows: 429 with Retry-After, like sends", async () => {
    await start();
    const conv = tenant.users[0].personalConversationId;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await post(conv, `m${i}`));
    for (let i = 0; i < 2; i++) assert.equal((await call(url, "PUT", `${activities(conv)}/${ids[i]}`, message("edit"))).status, 200);
    assert.equal((await call(url, "DELETE", `${activities(conv)}/${ids[2]}`)).status, 200);
    // 7 writes within the second: the 8th — of any kind — is refused.
    now += 400;
    const update = await call(url, "PUT", `${activities(conv)}/${ids[3]}`, message("edit"));
    assert.equal(update.status, 429);
    assert.equal(update.headers["retry-after"], "1");
    assert.equal(update.body.error.code, "Throttled");
    const del = await call(url, "DELETE", `${activities(conv)}/${ids[3]}`);
    assert.equal(del.status, 429);
    assert.equal((await call(url, "POST", activities(conv), message("send"))).status, 429);
    assert.equal(emulator.activity(ids[3])!.updates, 0);
    assert.equal(emulator.deleted().length, 1);
    assert.equal(emulator.stats().rateLimited, 3);

    // Another person's chat is another thread; the refused requests used no slot.
    assert.equal((await call(url, "PUT", `${activities(tenant.users[1].personalConversationId)}/${await post(tenant.users[1].personalConversationId, "x")}`, message("y"))).status, 200);
    now += 600;
    assert.equal((await call(url, "PUT", `${activities(conv)}/${ids[3]}`, message("edit"))).status, 200, "once the window frees a slot");
  });

  it("updates and deletes count in the tenant's 50 requests per second", async () => {
    await start({ globalPerSecond: 3 });
    const [a, b, c] = tenant.users;
    const id = await post(a.personalConversationId, "x");
    await post(b.personalConversationId, "y");
    assert.equal((await call(url, "PUT", `${activities(a.personalConversationId)}/${id}`, message("x2"))).status, 200);
    const over = await call(url, "DELETE", `${activities(a.personalConversationId)}/${id}`);
    assert.equal(over.status, 429);
    assert.match(over.body.error.message, /global/);
    assert.equal((await call(url, "POST", activities(c.personalConversationId), message("z"))).status, 429);
  });

  it("faults match update and delete separately; deliverAnyway applies the update yet answers the error", async () => {
    await start({ limits: false });
    const conv = tenant.users[0].personalConversationId;
    const id = await post(conv, "v1");
    emulator.addFault({ match: { route: "delete" }, status: 403, code: "BotNotInConversationRoster", times: 1 });
    emulator.addFault({ match: { route: "update", userId: tenant.users[0].id }, status: 503, deliverAnyway: true, times: 1 });

    const update = await call(url, "PUT", `${activities(conv)}/${id}`, message("v2"));
    assert.equal(update.status, 503);
    assert.equal(emulator.latestContent(id)?.text, "v2", "Teams applied it before failing");
    assert.equal((await call(url, "PUT", `${activities(conv)}/${id}`, message("v3"))).status, 200, "the update rule is used up");

    const del = await call(url, "DELETE", `${activities(conv)}/${id}`);
    assert.equal(del.status, 403);
    assert.equal(del.body.error.code, "BotNotInConversationRoster");
    assert.equal(emulator.deleted().length, 0);
    assert.equal((await call(url, "POST", activities(conv), message("send"))).status, 201, "sends are not matched");
    assert.equal((await call(url, "DELETE", `${activities(conv)}/${id}`)).status, 200);
    assert.equal(emulator.stats().faultsInjected, 2);
  });

  it("keeps only ids and times of updates when recordActivities is false; reset forgets everything", async () => {
    await start({ limits: false, recordActivities: false });
    const conv = tenant.users[0].personalConversationId;
    const id = await post(conv, "v1");
    await call(url, "PUT", `${activities(conv)}/${id}`, message("v2"));
    assert.deepEqual(emulator.updatesOf(id), [{ at: now, activity: undefined }]);
    emulator.reset();
    assert.equal(emulator.activity(id), undefined);
    assert.equal((await call(url, "PUT", `${activities(conv)}/${id}`, message("v3"))).status, 404);
    assert.equal(emulator.stats().updated, 0);
  });
});
