import { strict as assert } from "node:assert";
import { MemoryStore } from "../../src/store/memory";
import { targetKey } from "../../src/store/types";
import { eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";
import { snapshotMemoryStore } from "../support/store-snapshot";

type Activity = Record<string, any>;

async function postRaw(fx: HeraldFixture, body: string, contentType = "application/json") {
  const res = await fetch(`${fx.url}/api/messages`, { method: "POST", headers: { "content-type": contentType }, body });
  const text = await res.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* asserted below */ }
  return { status: res.status, body: parsed, type: res.headers.get("content-type") };
}

describe("/api/messages: malformed activities are 400 and store nothing", () => {
  let fx: HeraldFixture;
  let store: MemoryStore;

  before(async () => {
    store = new MemoryStore();
    fx = await startHerald({ store });
  });
  after(async () => {
    await fx.stop();
  });

  /** A personal install: valid, it would store a target and a member and post a welcome. */
  function install(): Activity {
    const user = fx.tenant.users[0];
    return { id: "f:1", timestamp: new Date().toISOString(), channelId: "msteams", serviceUrl: fx.serviceUrl, ...(fx.driver as any).installation(user, user, "add") };
  }
  const set = (path: string, value: unknown) => (a: Activity) => {
    const keys = path.split(".");
    let node = a;
    for (const key of keys.slice(0, -1)) node = node[key] ??= {};
    if (value === undefined) delete node[keys.at(-1)!];
    else node[keys.at(-1)!] = value;
    return a;
  };

  const malformed: Array<[string, (a: Activity) => unknown, RegExp]> = [
    ["no type", set("type", undefined), /type/],
    ["a numeric type", set("type", 7), /type must be a string/],
    ["an empty type", set("type", ""), /type must not be empty/],
    ["no channelId", set("channelId", undefined), /channelId/],
    ["no serviceUrl", set("serviceUrl", undefined), /serviceUrl/],
    ["a serviceUrl that is not a URL", set("serviceUrl", "not a url"), /serviceUrl must be an absolute http\(s\) URL/],
    ["a javascript: serviceUrl", set("serviceUrl", "javascript:alert(1)"), /serviceUrl/],
    ["no conversation", set("conversation", undefined), /conversation/],
    ["a numeric conversation id", set("conversation.id", 42), /conversation\.id must be a string/],
    ["an empty conversation id", set("conversation.id", ""), /conversation\.id must not be empty/],
    ["a conversation that is a string", set("conversation", "19:abc"), /conversation must be an object/],
    ["conversation.isGroup not a boolean", set("conversation.isGroup", "yes"), /isGroup/],
    ["a tenant id that is a number", set("conversation.tenantId", 5), /conversation\.tenantId/],
    ["no from", set("from", undefined), /from/],
    ["from without an id", set("from.id", undefined), /from\.id/],
    ["a recipient that is a string", set("recipient", "28:bot"), /recipient/],
    ["a timestamp that is not a date", set("timestamp", "yesterday"), /timestamp must be an ISO 8601 date-time/],
    ["a numeric localTimestamp", set("localTimestamp", 12), /localTimestamp/],
    ["entities that is an object", set("entities", { type: "clientInfo" }), /entities must be an array/],
    ["a null entity", set("entities", [null]), /entit/],
    ["an entity whose type is a number", set("entities", [{ type: 5 }]), /entities\[\]\.type must be a string/],
    ["attachments that is a string", set("attachments", "x"), /attachments/],
    ["a member without an id", set("membersAdded", [{}]), /membersAdded/],
    ["a member whose id is a number", set("membersAdded", [{ id: 1 }]), /membersAdded/],
    ["channelData that is a string", set("channelData", "x"), /channelData/],
    ["channelData.tenant.id that is a number", set("channelData.tenant.id", 5), /channelData\.tenant\.id/],
    ["a team name that is an object", set("channelData.team", { id: "19:x", name: {} }), /channelData\.team\.name/],
    ["text that is a number", set("text", 3), /text must be a string/],
    ["a Stop button value whose category is an object", set("value", { herald: "optout", category: {} }), /value\.category/],
    ["a Herald button value whose verb is not a string", set("value", { herald: 1 }), /value\.herald/],
    ["an action that is a number", set("action", 1), /action/],
    ["a localTimezone that is a number", set("localTimezone", 42), /localTimezone/],
  ];

  for (const [name, mutate, message] of malformed) {
    it(`${name} → 400 naming the field`, async () => {
      const before = snapshotMemoryStore(store);
      const activity = install();
      mutate(activity);
      const res = await postRaw(fx, JSON.stringify(activity));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, "invalid_request");
      assert.match(res.body.error.message, message);
      assert.equal(snapshotMemoryStore(store), before, "nothing stored");
      assert.equal(fx.emulator.delivered().length, 0, "nothing sent");
    });
  }

  it("bodies that are not activities: 400, 415, 413 — JSON each time", async () => {
    const before = snapshotMemoryStore(store);
    for (const body of ["[]", "null", "\"message\"", "42", "{", "", "{\"type\":\"message\""]) {
      const res = await postRaw(fx, body);
      assert.equal(res.status, 400, `${body}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.code, body);
    }
    const text = await postRaw(fx, JSON.stringify(install()), "text/plain");
    assert.equal(text.status, 415);
    const huge = await postRaw(fx, JSON.stringify({ ...install(), text: "x".repeat(1_100_000) }));
    assert.equal(huge.status, 413);
    assert.match(huge.type ?? "", /application\/json/);
    assert.equal(snapshotMemoryStore(store), before);
  });

  it("the same activity, well-formed, is accepted and stored (the rejections above were about the fields)", async () => {
    const activity = install();
    const res = await postRaw(fx, JSON.stringify(activity));
    assert.equal(res.status, 200);
    assert.ok(await fx.store.targets.get(targetKey(fx.tenant.tenantId, activity.conversation.id)));
  });

  it("an invoke Herald does not handle is 400, not botbuilder's 501", async () => {
    const user = fx.tenant.users[1];
    const activity = { ...fx.driver.buildMessage(user, user, undefined), type: "invoke", name: "composeExtension/query", value: {} };
    const res = await postRaw(fx, JSON.stringify(activity));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "unsupported_invoke");
  });
});

describe("HERALD_ALLOWED_TENANTS", () => {
  let fx: HeraldFixture;
  let store: MemoryStore;
  const API_KEY = "test-key-0123456789abcdef";
  const auth = { authorization: `Bearer ${API_KEY}` };

  beforeEach(async () => {
    store = new MemoryStore();
    fx = await startHerald({ store, env: { HERALD_ALLOWED_TENANTS: "Tenant-Contoso", HERALD_API_KEY: API_KEY } });
  });
  afterEach(async () => {
    await fx.stop();
  });

  it("accepts activities from an allowed tenant (ids compared case-insensitively)", async () => {
    const user = fx.tenant.users[0];
    assert.equal(await fx.driver.installPersonal(user), 200);
    assert.ok(await store.targets.get(targetKey(fx.tenant.tenantId, user.personalConversationId)));
  });

  it("answers 403 to an activity from another tenant, or from none, and stores nothing", async () => {
    const user = fx.tenant.users[0];
    const before = snapshotMemoryStore(store);
    const foreign = (fx.driver as any).installation(user, user, "add");
    foreign.conversation.tenantId = "tenant-fabrikam";
    foreign.channelData.tenant.id = "tenant-fabrikam";
    const res = await fx.driver.post(foreign);
    assert.equal(res.status, 403);
    assert.equal(JSON.parse(res.body).error.code, "tenant_not_allowed");

    const none = (fx.driver as any).installation(user, user, "add");
    delete none.conversation.tenantId;
    delete none.channelData.tenant;
    assert.equal((await fx.driver.post(none)).status, 403);

    assert.equal(snapshotMemoryStore(store), before);
    assert.equal(fx.emulator.delivered().length, 0, "no welcome either");
  });

  it("an audience may not name another tenant, by tenantId or by target key: 403, no notification", async () => {
    await fx.driver.installPersonal(fx.tenant.users[0]);
    await fx.rostersSynced(); // the install's member read settles before the snapshot
    const before = snapshotMemoryStore(store);
    const byTenant = await fx.api("POST", "/api/notifications", { title: "t", text: "x", audience: { kind: "all", tenantId: "tenant-fabrikam" } }, auth);
    assert.equal(byTenant.status, 403);
    assert.equal(byTenant.body.error.code, "tenant_not_allowed");
    assert.match(byTenant.body.error.message, /audience\.tenantId/);
    const byKey = await fx.api("POST", "/api/notifications", { title: "t", text: "x", audience: { kind: "conversations", conversationIds: ["_tenant-fabrikam_19:abc@thread.v2"] } }, auth);
    assert.equal(byKey.status, 403);
    assert.match(byKey.body.error.message, /audience\.conversationIds/);
    assert.equal(snapshotMemoryStore(store), before);

    const allowed = await fx.api("POST", "/api/notifications", { title: "t", text: "x", audience: { kind: "all", tenantId: "tenant-contoso" } }, auth);
    assert.equal(allowed.status, 202);
  });

  it("an installation stored before the list was set is skipped and reported, never sent", async () => {
    const user = fx.tenant.users[0];
    await fx.driver.installPersonal(user);
    const ours = (await store.targets.list({}, 10)).items[0]!;
    await store.targets.upsert({ ...ours, key: targetKey("tenant-fabrikam", "a:elsewhere"), tenantId: "tenant-fabrikam", conversationId: "a:elsewhere" });
    fx.emulator.reset();

    const res = await fx.api("POST", "/api/notifications", { title: "Everyone", text: "x" }, auth);
    assert.equal(res.status, 202);
    const report = await eventually(async () => {
      const r = await fx.api("GET", `/api/notifications/${res.body.id}`, undefined, auth);
      return r.body.status === "completed" ? r.body : undefined;
    }, "completion");
    assert.equal(report.counts.sent, 1);
    assert.equal(report.counts.skipped, 1);
    const skipped = await fx.api("GET", `/api/notifications/${res.body.id}/deliveries?status=skipped`, undefined, auth);
    assert.match(skipped.body.items[0].reason, /tenant-fabrikam is not in HERALD_ALLOWED_TENANTS/);
    assert.equal(fx.emulator.delivered().filter((d) => d.conversationId === "a:elsewhere").length, 0);
  });
});
