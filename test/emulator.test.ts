import { strict as assert } from "node:assert";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectorClient } from "botframework-connector";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import { seedTenant } from "../src/emulator/seed";
import type { EmulatorOptions, SeededTenant } from "../src/emulator/types";

const TENANT = "tenant-a";
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Res { status: number; body: any; headers: http.IncomingHttpHeaders }

/** Plain node:http JSON request (keep-alive), so hundreds of calls stay fast. */
function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method, agent,
      headers: { ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}), ...headers },
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
const sendPath = (conversationId: string) => `/v3/conversations/${enc(conversationId)}/activities`;
const message = (text: string) => ({ type: "message", text });

async function startEmulator(options: EmulatorOptions, seed: Parameters<ConnectorEmulator["seed"]>[0]) {
  const emulator = new ConnectorEmulator(options);
  const tenant = emulator.seed(seed);
  const url = await emulator.start();
  return { emulator, tenant, url };
}

after(() => agent.destroy());

describe("emulator: seeded tenants", () => {
  it("generates the same ids for the same spec and different ids per tenant", () => {
    const spec = { tenantId: TENANT, users: 4, teams: [{ name: "Eng", memberCount: 3, channels: 3 }], groupChats: [{ memberCount: 2 }] };
    const a = seedTenant(spec);
    const b = seedTenant(spec);
    assert.deepEqual(a, b);
    const other = seedTenant({ ...spec, tenantId: "tenant-b" });
    assert.notEqual(other.users[0].id, a.users[0].id);
    assert.notEqual(other.users[0].aadObjectId, a.users[0].aadObjectId);

    const u = a.users[0];
    assert.match(u.id, /^29:/);
    assert.match(u.aadObjectId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(u.userPrincipalName, `user1@${TENANT}.example`);
    assert.match(u.personalConversationId, /^a:/);
    assert.equal(new Set(a.users.map((x) => x.id)).size, 4);

    const team = a.teams[0];
    assert.match(team.id, /^19:[0-9a-f]+@thread\.tacv2$/);
    assert.equal(team.channels.length, 3);
    assert.deepEqual(team.channels[0], { id: team.id }, "General channel = team id, no name");
    assert.match(team.channels[1].id, /^19:.*@thread\.tacv2$/);
    assert.equal(team.memberIds.length, 3);
    assert.match(a.groupChats[0].id, /@thread\.v2$/);
  });

  it("grows the user list to cover the largest roster", () => {
    const t = seedTenant({ tenantId: TENANT, users: 10, teams: [{ name: "Big", memberCount: 1200 }] });
    assert.equal(t.users.length, 1200);
    assert.equal(new Set(t.teams[0].memberIds).size, 1200);
  });
});

describe("emulator: routes", () => {
  let emulator: ConnectorEmulator;
  let tenant: SeededTenant;
  let url: string;

  before(async () => {
    ({ emulator, tenant, url } = await startEmulator({ limits: false }, {
      tenantId: TENANT, users: 20, teams: [{ name: "Big", memberCount: 1200, channels: 2 }], groupChats: [{ memberCount: 3 }],
    }));
  });
  after(() => emulator.stop());
  beforeEach(() => emulator.reset());

  it("creates 1:1 conversations with a stable id per user, as Teams does", async () => {
    const user = tenant.users[3];
    const params = { isGroup: false, bot: { id: "28:bot" }, members: [{ id: user.id }], tenantId: TENANT, channelData: { tenant: { id: TENANT } } };
    const first = await call(url, "POST", "/v3/conversations", params);
    const second = await call(url, "POST", "/v3/conversations", params);
    assert.equal(first.status, 201);
    assert.equal(first.body.id, user.personalConversationId);
    assert.equal(second.body.id, first.body.id);
    const byAad = await call(url, "POST", "/v3/conversations", { ...params, members: [{ id: user.aadObjectId }] });
    assert.equal(byAad.body.id, user.personalConversationId, "AAD object id names the same user");

    const stranger = await call(url, "POST", "/v3/conversations", { ...params, members: [{ id: "29:nobody" }] });
    assert.equal(stranger.status, 400);
    assert.equal(stranger.body.error.code, "BadArgument");
  });

  it("creates a channel thread whose id carries the first activity's id and records it", async () => {
    const channel = tenant.teams[0].channels[1].id;
    const res = await call(url, "POST", "/v3/conversations", {
      isGroup: true, bot: { id: "28:bot" }, channelData: { channel: { id: channel }, tenant: { id: TENANT } }, activity: message("root post"),
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.id, `${channel};messageid=${res.body.activityId}`);
    const [root] = emulator.delivered(res.body.id);
    assert.equal(root.activity?.text, "root post");
    assert.equal(root.tenantId, TENANT);

    const reply = await call(url, "POST", `${sendPath(res.body.id)}/${enc(res.body.activityId)}`, message("in thread"));
    assert.equal(reply.status, 201);
    const thread = emulator.delivered(res.body.id);
    assert.deepEqual(thread.map((d) => d.activity?.text), ["root post", "in thread"]);
    assert.equal(thread[1].replyToId, res.body.activityId);

    const unknown = await call(url, "POST", "/v3/conversations", { channelData: { channel: { id: "19:nope@thread.tacv2" } }, activity: message("x") });
    assert.equal(unknown.status, 404);
  });

  it("records sends (percent-encoded ids) with tenant, time and whether Authorization was present", async () => {
    const user = tenant.users[0];
    const withAuth = await call(url, "POST", sendPath(user.personalConversationId), message("hello"), { authorization: "Bearer secret" });
    assert.equal(withAuth.status, 201);
    assert.match(withAuth.body.id, /^\d+$/);
    await call(url, "POST", sendPath(tenant.groupChats[0].id), message("chat"));

    const [d] = emulator.delivered(user.personalConversationId);
    assert.equal(d.activityId, withAuth.body.id);
    assert.equal(d.tenantId, TENANT);
    assert.equal(d.authorized, true);
    assert.equal(typeof d.at, "number");
    assert.ok(!JSON.stringify(emulator.delivered()).includes("secret"), "the token is never kept");
    assert.equal(emulator.delivered().length, 2);
    assert.equal(emulator.delivered(tenant.groupChats[0].id)[0].authorized, false);
    const stats = emulator.stats();
    assert.equal(stats.authHeaderSeen, true);
    assert.equal(stats.requestsWithAuth, 1);
    assert.equal(stats.byRoute.send, 2);

    const updated = await call(url, "PUT", `${sendPath(user.personalConversationId)}/${withAuth.body.id}`, message("hello, edited"));
    assert.equal(updated.status, 200);
    assert.equal(updated.body.id, withAuth.body.id);
    assert.equal(emulator.delivered(user.personalConversationId)[0].updates, 1);
    assert.equal(emulator.delivered(user.personalConversationId)[0].activity?.text, "hello, edited");
    const deleted = await call(url, "DELETE", `${sendPath(user.personalConversationId)}/${withAuth.body.id}`);
    assert.equal(deleted.status, 200);
    assert.equal(emulator.stats().byRoute.update, 1);
    assert.equal(emulator.stats().byRoute.delete, 1);
    const wrongMethod = await call(url, "GET", sendPath(user.personalConversationId));
    assert.equal(wrongMethod.status, 404);
    assert.equal(wrongMethod.body.error.code, "NotFound");
  });

  it("keeps only metadata when recordActivities is false", async () => {
    const lean = new ConnectorEmulator({ recordActivities: false });
    const t = lean.seed({ tenantId: TENANT, users: 1 });
    const base = await lean.start();
    try {
      const res = await call(base, "POST", sendPath(t.users[0].personalConversationId), message("big card"));
      const [d] = lean.delivered();
      assert.equal(d.activityId, res.body.id);
      assert.equal(d.activity, undefined);
    } finally {
      await lean.stop();
    }
  });

  it("answers 404 ConversationNotFound for unknown conversations until one is registered", async () => {
    const res = await call(url, "POST", sendPath("a:made-up"), message("x"));
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: { code: "ConversationNotFound", message: "Conversation not found." } });
    emulator.registerConversation({ id: "a:made-up", tenantId: TENANT, kind: "personal" });
    assert.equal((await call(url, "POST", sendPath("a:made-up"), message("x"))).status, 201);
    assert.equal((await call(url, "GET", `/v3/conversations/${enc("19:x@thread.v2")}/members`)).status, 404);
  });

  it("lists members and finds one by Teams id or AAD object id", async () => {
    const chat = tenant.groupChats[0];
    const members = await call(url, "GET", `/v3/conversations/${enc(chat.id)}/members`);
    assert.equal(members.status, 200);
    assert.deepEqual(members.body.map((m: any) => m.id), chat.memberIds);
    const first = members.body[0];
    for (const field of ["id", "name", "aadObjectId", "userPrincipalName", "email", "givenName", "surname", "tenantId", "userRole"]) {
      assert.ok(first[field], `member has ${field}`);
    }
    const personal = await call(url, "GET", `/v3/conversations/${enc(tenant.users[5].personalConversationId)}/members`);
    assert.deepEqual(personal.body.map((m: any) => m.id), [tenant.users[5].id]);

    const byId = await call(url, "GET", `/v3/conversations/${enc(chat.id)}/members/${enc(chat.memberIds[1])}`);
    assert.equal(byId.body.id, chat.memberIds[1]);
    const byAad = await call(url, "GET", `/v3/conversations/${enc(chat.id)}/members/${byId.body.aadObjectId}`);
    assert.equal(byAad.body.id, chat.memberIds[1]);
    const outsider = await call(url, "GET", `/v3/conversations/${enc(chat.id)}/members/${enc(tenant.users[19].id)}`);
    assert.equal(outsider.status, 404);
  });

  it("pages 1,200 team members with the page size clamped to 50..500 (default 200)", async () => {
    const team = tenant.teams[0];
    const pageAll = async (pageSize?: number) => {
      const sizes: number[] = [];
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams();
        if (pageSize !== undefined) q.set("pageSize", String(pageSize));
        if (token) q.set("continuationToken", token);
        const res = await call(url, "GET", `/v3/conversations/${enc(team.id)}/pagedmembers?${q}`);
        assert.equal(res.status, 200);
        sizes.push(res.body.members.length);
        ids.push(...res.body.members.map((m: any) => m.id));
        token = res.body.continuationToken;
      } while (token);
      assert.deepEqual(ids, team.memberIds, "every member exactly once, in roster order");
      return sizes;
    };
    assert.deepEqual(await pageAll(), [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(await pageAll(10), new Array(24).fill(50));
    assert.deepEqual(await pageAll(1000), [500, 500, 200]);
    // A thread in a team channel has the team's roster.
    const thread = `${team.channels[1].id};messageid=123`;
    const page = await call(url, "GET", `/v3/conversations/${enc(thread)}/pagedmembers?pageSize=50`);
    assert.equal(page.body.members[0].id, team.memberIds[0]);
    const bad = await call(url, "GET", `/v3/conversations/${enc(team.id)}/pagedmembers?continuationToken=garbage`);
    assert.equal(bad.status, 400);
  });

  it("returns team details and channels (General = team id, no name)", async () => {
    const team = tenant.teams[0];
    const details = await call(url, "GET", `/v3/teams/${enc(team.id)}`);
    assert.equal(details.status, 200);
    assert.equal(details.body.id, team.id);
    assert.equal(details.body.name, "Big");
    assert.equal(details.body.aadGroupId, team.aadGroupId);
    const channels = await call(url, "GET", `/v3/teams/${enc(team.id)}/conversations`);
    assert.deepEqual(channels.body.conversations, [{ id: team.id }, { id: team.channels[1].id, name: "Channel 1" }]);
    assert.equal((await call(url, "GET", `/v3/teams/${enc("19:none@thread.tacv2")}`)).status, 404);
  });

  it("works with botbuilder's own ConnectorClient", async () => {
    const client = new ConnectorClient({ signRequest: async (r: unknown) => r } as never, { baseUri: url });
    const user = tenant.users[1];
    const created = await client.conversations.createConversation({
      isGroup: false, bot: { id: "28:bot", name: "Herald" }, members: [{ id: user.id, name: user.name }], tenantId: TENANT,
      channelData: { tenant: { id: TENANT } }, activity: undefined as never,
    });
    assert.equal(created.id, user.personalConversationId);
    const sent = await client.conversations.sendToConversation(created.id, { type: "message", text: "via botbuilder" } as never);
    assert.equal(emulator.delivered(created.id)[0].activityId, sent.id);
    const paged = await client.conversations.getConversationPagedMembers(tenant.teams[0].id, { pageSize: 60, continuationToken: undefined as unknown as string });
    assert.equal(paged.members?.length, 60);
    assert.ok(paged.continuationToken);
    await assert.rejects(client.conversations.sendToConversation("a:unknown", { type: "message" } as never),
      (err: any) => err.statusCode === 404);
  });

  it("accepts unknown conversations when asked to", async () => {
    const open = new ConnectorEmulator({ acceptUnknownConversations: true });
    const base = await open.start();
    try {
      const res = await call(base, "POST", sendPath("19:anything@thread.v2"), { ...message("hi"), conversation: { tenantId: "t9" } });
      assert.equal(res.status, 201);
      assert.equal(open.delivered("19:anything@thread.v2")[0].tenantId, "t9");
    } finally {
      await open.stop();
    }
  });
});

describe("emulator: rate limits (injected clock, exact windows)", () => {
  let emulator: ConnectorEmulator;
  let tenant: SeededTenant;
  let url: string;
  let now = 0;

  const startWith = async (options: EmulatorOptions = {}) => {
    now = 1_000_000;
    ({ emulator, tenant, url } = await startEmulator({ now: () => now, ...options }, {
      tenantId: TENANT, users: 60, teams: [{ name: "T", memberCount: 5 }],
    }));
  };
  afterEach(() => emulator.stop());

  const send = (conversationId: string) => call(url, "POST", sendPath(conversationId), message("x"));
  const sendN = async (conversationId: string, n: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push((await send(conversationId)).status);
    return statuses;
  };

  it("send: the 8th within 1 s is 429 with Retry-After; accepted once the window passes; throttled requests do not count", async () => {
    await startWith();
    const conv = tenant.users[0].personalConversationId;
    assert.deepEqual(await sendN(conv, 7), new Array(7).fill(201));
    now += 500;
    const throttled = await send(conv);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers["retry-after"], "1");
    assert.equal(throttled.body.error.code, "Throttled");
    assert.deepEqual(await sendN(conv, 10), new Array(10).fill(429), "refused requests keep being refused");
    now += 499;
    assert.equal((await send(conv)).status, 429, "1 ms before the window frees a slot");
    now += 1;
    assert.equal((await send(conv)).status, 201, "exactly when the window passes");
    assert.equal(emulator.delivered(conv).length, 8);
    assert.equal(emulator.stats().throttled, 12);
    assert.equal(emulator.stats().rateLimited, 12);
    // Another thread has its own windows.
    assert.equal((await send(tenant.users[1].personalConversationId)).status, 201);
  });

  it("send: 8 per 2 s", async () => {
    await startWith();
    const conv = tenant.users[0].personalConversationId;
    await sendN(conv, 7);
    now += 1000;
    assert.equal((await send(conv)).status, 201, "8th in the 2 s window");
    const ninth = await send(conv);
    assert.equal(ninth.status, 429);
    assert.equal(ninth.headers["retry-after"], "1", "first seven leave the 2 s window 1 s from now");
    now += 999;
    assert.equal((await send(conv)).status, 429);
    now += 1;
    assert.equal((await send(conv)).status, 201);
  });

  it("send: 60 per 30 s, counted per thread across ;messageid= replies", async () => {
    await startWith();
    const team = tenant.teams[0].id;
    const start = now;
    let accepted = 0;
    for (let s = 0; s < 15; s++) {
      now = start + s * 1000;
      for (let i = 0; i < 4; i++) {
        const id = i % 2 === 0 ? team : `${team};messageid=${s}`;
        assert.equal((await send(id)).status, 201, `send ${accepted + 1}`);
        accepted++;
      }
    }
    assert.equal(accepted, 60);
    now = start + 15_000;
    const over = await send(team);
    assert.equal(over.status, 429);
    assert.equal(over.headers["retry-after"], "15");
    now = start + 29_999;
    assert.equal((await send(`${team};messageid=x`)).status, 429);
    now = start + 30_000;
    assert.equal((await send(team)).status, 201);
  });

  it("send: 1800 per 3600 s", async function () {
    this.timeout(60_000);
    await startWith();
    const conv = tenant.users[2].personalConversationId;
    const start = now;
    for (let s = 0; s < 900; s++) {
      now = start + s * 1000;
      const [a, b] = await Promise.all([send(conv), send(conv)]);
      if (a.status !== 201 || b.status !== 201) assert.fail(`second ${s}: ${a.status}/${b.status}`);
    }
    now = start + 900_000;
    const over = await send(conv);
    assert.equal(over.status, 429);
    assert.equal(over.headers["retry-after"], String(3600 - 900));
    now = start + 3_600_000;
    assert.equal((await send(conv)).status, 201);
  });

  it("create conversation: the same windows, per thread being created (one person's 1:1, or a channel)", async () => {
    await startWith();
    const create = (i: number, tenantId = TENANT) => call(url, "POST", "/v3/conversations", {
      members: [{ id: tenant.users[i].id }], tenantId, channelData: { tenant: { id: tenantId } },
    });
    for (let i = 0; i < 7; i++) assert.equal((await create(0)).status, 201, "re-creating one person's chat");
    const eighth = await create(0);
    assert.equal(eighth.status, 429);
    assert.equal(eighth.headers["retry-after"], "1");
    for (let i = 1; i < 8; i++) assert.equal((await create(i)).status, 201, "other people's chats are other threads");
    emulator.seed({ tenantId: "tenant-b", users: 1 });
    const other = emulator.directory.tenant("tenant-b")!.users[0];
    const res = await call(url, "POST", "/v3/conversations", { members: [{ id: other.id }], tenantId: "tenant-b" });
    assert.equal(res.status, 201, "another tenant has its own windows");
  });

  it("members: 14 per 1 s and 16 per 2 s", async () => {
    await startWith();
    const path = `/v3/conversations/${enc(tenant.teams[0].id)}/members`;
    for (let i = 0; i < 14; i++) assert.equal((await call(url, "GET", path)).status, 200);
    const fifteenth = await call(url, "GET", path);
    assert.equal(fifteenth.status, 429);
    assert.equal(fifteenth.headers["retry-after"], "1");
    now += 1000;
    assert.equal((await call(url, "GET", path)).status, 200);
    assert.equal((await call(url, "GET", `/v3/conversations/${enc(tenant.teams[0].id)}/pagedmembers`)).status, 200);
    assert.equal((await call(url, "GET", path)).status, 429, "17th within 2 s");
  });

  it("members: 120 per 30 s", async () => {
    await startWith();
    const path = `/v3/conversations/${enc(tenant.teams[0].id)}/members`;
    const start = now;
    for (let s = 0; s < 15; s++) {
      now = start + s * 2000;
      for (let i = 0; i < 8; i++) assert.equal((await call(url, "GET", path)).status, 200);
    }
    now = start + 30_000 - 1;
    const over = await call(url, "GET", path);
    assert.equal(over.status, 429);
    assert.equal(over.headers["retry-after"], "1");
    now = start + 30_000;
    assert.equal((await call(url, "GET", path)).status, 200);
  });

  it("global: 50 requests per second per tenant, across threads and routes", async () => {
    await startWith();
    for (let i = 0; i < 49; i++) assert.equal((await send(tenant.users[i].personalConversationId)).status, 201);
    assert.equal((await call(url, "GET", `/v3/conversations/${enc(tenant.teams[0].id)}/members`)).status, 200, "50th");
    const over = await send(tenant.users[55].personalConversationId);
    assert.equal(over.status, 429);
    assert.equal(over.headers["retry-after"], "1");
    emulator.seed({ tenantId: "tenant-b", users: 1 });
    const other = emulator.directory.tenant("tenant-b")!.users[0];
    assert.equal((await send(other.personalConversationId)).status, 201, "other tenant unaffected");
    now += 1000;
    assert.equal((await send(tenant.users[55].personalConversationId)).status, 201);
  });

  it("timeScale shrinks every window and Retry-After", async () => {
    await startWith({ timeScale: 0.1 });
    const conv = tenant.users[0].personalConversationId;
    await sendN(conv, 7);
    now += 30;
    const over = await send(conv);
    assert.equal(over.status, 429);
    assert.equal(over.headers["retry-after"], "0.1");
    now += 69;
    assert.equal((await send(conv)).status, 429);
    now += 1;
    assert.equal((await send(conv)).status, 201, "100 ms = 1 s at timeScale 0.1");
  });

  it("limits: false never throttles", async () => {
    await startWith({ limits: false });
    assert.deepEqual(await sendN(tenant.users[0].personalConversationId, 20), new Array(20).fill(201));
  });

  it("busiestWindow counts every request of a tenant that arrived within any window, throttled ones included", async () => {
    await startWith({ limits: false });
    for (let i = 0; i < 5; i++) {
      await send(tenant.users[i].personalConversationId);
      now += 100;
    }
    now += 1000;
    await sendN(tenant.users[9].personalConversationId, 3);
    assert.equal(emulator.busiestWindow(1000, TENANT), 5);
    assert.equal(emulator.busiestWindow(250, TENANT), 3, "three at the same instant beat two 100 ms apart");
    assert.equal(emulator.busiestWindow(1000), 5);
    assert.equal(emulator.busiestWindow(1000, "another-tenant"), 0);
    emulator.reset();
    assert.equal(emulator.busiestWindow(1000), 0);
  });
});

describe("emulator: faults", () => {
  let emulator: ConnectorEmulator;
  let tenant: SeededTenant;
  let url: string;

  before(async () => {
    ({ emulator, tenant, url } = await startEmulator({ limits: false, seed: 42 }, { tenantId: TENANT, users: 5 }));
  });
  after(() => emulator.stop());
  beforeEach(() => emulator.reset());

  it("answers with the rule's status and Teams error code for `times` requests", async () => {
    const target = tenant.users[0].personalConversationId;
    emulator.addFault({ match: { route: "send", conversationId: target }, status: 403, code: "BotNotInConversationRoster", times: 2 });
    const a = await call(url, "POST", sendPath(target), message("1"));
    assert.equal(a.status, 403);
    assert.equal(a.body.error.code, "BotNotInConversationRoster");
    assert.equal((await call(url, "POST", sendPath(tenant.users[1].personalConversationId), message("other"))).status, 201);
    assert.equal((await call(url, "POST", sendPath(target), message("2"))).status, 403);
    assert.equal((await call(url, "POST", sendPath(target), message("3"))).status, 201, "rule exhausted");
    assert.deepEqual(emulator.delivered(target).map((d) => d.activity?.text), ["3"]);
    assert.equal(emulator.stats().faultsInjected, 2);
  });

  it("sends Retry-After on an injected 429 only when asked", async () => {
    const target = tenant.users[0].personalConversationId;
    emulator.addFault({ match: { route: "send" }, status: 429, retryAfterSeconds: 3, times: 1 });
    emulator.addFault({ match: { route: "send" }, status: 429, times: 1 });
    const first = await call(url, "POST", sendPath(target), message("x"));
    assert.equal(first.headers["retry-after"], "3");
    assert.equal(first.body.error.code, "Throttled");
    const second = await call(url, "POST", sendPath(target), message("x"));
    assert.equal(second.status, 429);
    assert.equal(second.headers["retry-after"], undefined);
    assert.equal(emulator.stats().throttled, 2);
  });

  it("deliverAnyway records the activity but still returns the error", async () => {
    const target = tenant.users[2].personalConversationId;
    emulator.addFault({ match: { route: "send" }, status: 502, deliverAnyway: true, times: 1 });
    const res = await call(url, "POST", sendPath(target), message("posted"));
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, "BadGateway");
    const [d] = emulator.delivered(target);
    assert.equal(d.activity?.text, "posted");
    assert.equal(d.faulted, true);
  });

  it("matches create by user id", async () => {
    const blocked = tenant.users[4];
    emulator.addFault({ match: { route: "create", userId: blocked.id }, status: 403, code: "ConversationBlockedByUser" });
    const create = (id: string) => call(url, "POST", "/v3/conversations", { members: [{ id }], tenantId: TENANT });
    assert.equal((await create(tenant.users[3].id)).status, 201);
    const res = await create(blocked.id);
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, { error: { code: "ConversationBlockedByUser", message: "User blocked the conversation with the bot." } });
  });

  it("probability draws from the seeded PRNG: same seed, same faults", async () => {
    const run = async () => {
      const e = new ConnectorEmulator({ limits: false, seed: 7 });
      const t = e.seed({ tenantId: TENANT, users: 1 });
      const base = await e.start();
      try {
        e.addFault({ status: 503, probability: 0.3 });
        const statuses: number[] = [];
        for (let i = 0; i < 40; i++) statuses.push((await call(base, "POST", sendPath(t.users[0].personalConversationId), message("x"))).status);
        return statuses;
      } finally {
        await e.stop();
      }
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    const failures = first.filter((s) => s === 503).length;
    assert.ok(failures > 0 && failures < 40, `some but not all fail (${failures})`);
  });

  it("is controllable over HTTP: faults, deliveries, stats, reset, seed, conversations", async () => {
    const added = await call(url, "POST", "/_emulator/faults", { match: { route: "send" }, status: 500, times: 1 });
    assert.equal(added.status, 201);
    const target = tenant.users[0].personalConversationId;
    assert.equal((await call(url, "POST", sendPath(target), message("a"))).status, 500);
    await call(url, "POST", "/_emulator/faults", { status: 504 });
    assert.equal((await call(url, "DELETE", "/_emulator/faults")).status, 200);
    assert.equal((await call(url, "POST", sendPath(target), message("b"))).status, 201);

    const deliveries = await call(url, "GET", `/_emulator/deliveries?conversationId=${enc(target)}`);
    assert.equal(deliveries.body.count, 1);
    assert.equal(deliveries.body.deliveries[0].activity.text, "b");
    const stats = await call(url, "GET", "/_emulator/stats");
    assert.equal(stats.body.requests, 2);
    assert.equal(stats.body.faultsInjected, 1);

    const seeded = await call(url, "POST", "/_emulator/seed", { tenantId: "tenant-http", users: 2 });
    assert.equal(seeded.status, 201);
    assert.equal(seeded.body.users.length, 2);
    assert.equal((await call(url, "POST", sendPath(seeded.body.users[1].personalConversationId), message("c"))).status, 201);
    assert.equal((await call(url, "POST", "/_emulator/conversations", { id: "19:reg@thread.v2", tenantId: TENANT, kind: "groupChat" })).status, 201);
    assert.equal((await call(url, "POST", sendPath("19:reg@thread.v2"), message("d"))).status, 201);

    assert.equal((await call(url, "POST", "/_emulator/reset")).status, 200);
    assert.equal((await call(url, "GET", "/_emulator/deliveries")).body.count, 0);
    assert.equal((await call(url, "GET", "/_emulator/stats")).body.requests, 0);
    assert.equal((await call(url, "POST", "/_emulator/faults", { status: 99 })).status, 400);
  });
});

describe("emulator: server", () => {
  it("adds latency and tracks concurrency; binds 127.0.0.1 on an ephemeral port", async () => {
    const { emulator, tenant, url } = await startEmulator({ limits: false, latencyMs: 400 }, { tenantId: TENANT, users: 4 });
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await Promise.all(tenant.users.map((u) => call(url, "POST", sendPath(u.personalConversationId), message("x"))));
      assert.deepEqual(res.map((r) => r.status), [201, 201, 201, 201]);
      assert.equal(emulator.stats().maxConcurrent, 4, "all four were in flight during the added latency");
    } finally {
      await emulator.stop();
    }
  });

  it("stop() closes keep-alive connections and frees the port", async () => {
    const emulator = new ConnectorEmulator();
    const url = await emulator.start();
    await call(url, "GET", "/_emulator/stats");
    await emulator.stop();
    const port = Number(new URL(url).port);
    const probe = http.createServer();
    await new Promise<void>((resolve, reject) => probe.once("error", reject).listen(port, "127.0.0.1", () => resolve()));
    assert.equal((probe.address() as AddressInfo).port, port);
    await new Promise((r) => probe.close(r));
  });
});
