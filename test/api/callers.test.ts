import { strict as assert } from "node:assert";
import { CallerRateLimit } from "../../src/api/caller-rate-limit";
import { ApiError } from "../../src/api/errors";
import { MemoryStore } from "../../src/store/memory";
import { eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";
import { snapshotMemoryStore } from "../support/store-snapshot";
import { TEST_AUDIENCE, TestEntra } from "../support/test-entra";

const PIPELINE_KEY = "pipeline-key-0123456789";
const HR_KEY = "hr-system-key-0123456789";
const LEGACY_KEY = "legacy-single-key-0123456789";
const PIPELINE_APP = "7d0c8a52-0000-4000-8000-00000000a11e";
const ROLE = "Notifications.Send";

const notification = { title: "Build 1043 failed", text: "main is red" };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("API callers: named keys, Entra ID tokens with an app role, createdBy, per-caller rate limit", () => {
  let entra: TestEntra;
  let fx: HeraldFixture;
  let store: MemoryStore;

  before(async () => {
    entra = await TestEntra.start();
  });
  after(async () => {
    await entra.stop();
  });

  async function start(env: Record<string, string> = {}): Promise<void> {
    store = new MemoryStore();
    fx = await startHerald({
      store,
      env: {
        HERALD_API_KEY: LEGACY_KEY,
        HERALD_API_KEYS: `build-pipeline:${PIPELINE_KEY},hr:${HR_KEY}`,
        HERALD_API_AUDIENCE: TEST_AUDIENCE,
        HERALD_API_OPENID_METADATA_URL: entra.metadataUrl,
        HERALD_ALLOWED_TENANTS: "tenant-contoso",
        ...env,
      },
    });
    await fx.driver.installPersonal(fx.tenant.users[0]);
  }
  afterEach(async () => {
    await fx?.stop();
  });

  const appToken = (claims: Record<string, unknown> = {}, options: Parameters<TestEntra["sign"]>[1] = {}) =>
    entra.sign({ oid: "sp-object-id-1", tid: "tenant-contoso", azp: PIPELINE_APP, idtyp: "app", roles: [ROLE], ...claims }, options);

  async function createdBy(headers: Record<string, string>): Promise<string> {
    const res = await fx.api("POST", "/api/notifications", notification, headers);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const report = await fx.api("GET", `/api/notifications/${res.body.id}`, undefined, headers);
    assert.equal(report.body.createdBy, res.body.createdBy, "the report shows who created it");
    return res.body.createdBy;
  }

  it("each named key works and is recorded by name; the single HERALD_API_KEY is 'default'", async () => {
    await start();
    assert.equal(await createdBy(bearer(PIPELINE_KEY)), "key:build-pipeline");
    assert.equal(await createdBy(bearer(HR_KEY)), "key:hr");
    assert.equal(await createdBy(bearer(LEGACY_KEY)), "key:default");
    const listed = await fx.api("GET", "/api/notifications", undefined, bearer(HR_KEY));
    assert.deepEqual(listed.body.items.map((i: { createdBy: string }) => i.createdBy).sort(), ["key:build-pipeline", "key:default", "key:hr"]);
  });

  it("a managed identity's Entra ID token with the app role is accepted and recorded by app id", async () => {
    await start();
    assert.equal(await createdBy(bearer(await appToken())), `app:${PIPELINE_APP}`);
    assert.equal(await createdBy(bearer(await appToken({ ver: "1.0", appid: PIPELINE_APP, azp: undefined }, { version: "1.0" }))), `app:${PIPELINE_APP}`, "v1 token");
  });

  it("refuses, storing nothing: wrong key 401, token without the role 403, wrong audience / tenant / expired / foreign key 401", async () => {
    await start();
    const cases: Array<[string, Record<string, string>, number]> = [
      ["no credentials", {}, 401],
      ["a wrong key", bearer("not-the-key-0123456789"), 401],
      ["a token without the role", bearer(await appToken({ roles: ["Something.Else"] })), 403],
      ["a token for another API", bearer(await appToken({}, { audience: "api://someone-else" })), 401],
      ["a token from another tenant", bearer(await appToken({ tid: "tenant-fabrikam" })), 401],
      ["an expired token", bearer(await appToken({}, { expiresIn: -3600 })), 401],
      ["a token signed by a key Entra does not publish", bearer(await appToken({}, { unpublishedKey: true })), 401],
    ];
    for (const [name, headers, status] of cases) {
      const before = snapshotMemoryStore(store);
      const res = await fx.api("POST", "/api/notifications", notification, headers);
      assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error.code, name);
      assert.equal(snapshotMemoryStore(store), before, `${name}: nothing stored`);
    }
  });

  it("answers 503 with Retry-After while Entra ID's keys cannot be fetched; keys keep working", async () => {
    // An Entra that is gone (nothing listens); restify, loaded in this process, breaks TestEntra's 503 answer.
    const gone = await TestEntra.start();
    await gone.stop();
    await start({ HERALD_API_OPENID_METADATA_URL: gone.metadataUrl });
    const res = await fx.api("POST", "/api/notifications", notification, bearer(await appToken()));
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
    assert.equal(await createdBy(bearer(PIPELINE_KEY)), "key:build-pipeline");
  });

  it("a runaway caller gets 429 with Retry-After; other callers and reads are unaffected", async () => {
    await start({ HERALD_API_RATE_LIMIT: "3" });
    for (let i = 0; i < 3; i++) assert.equal((await fx.api("POST", "/api/notifications", notification, bearer(PIPELINE_KEY))).status, 202);
    await eventually(async () => (await store.jobs.listUnfinishedJobs()).length === 0, "the engine to finish sending");
    const before = snapshotMemoryStore(store);
    const limited = await fx.api("POST", "/api/notifications", notification, bearer(PIPELINE_KEY));
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, "rate_limited");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(snapshotMemoryStore(store), before, "nothing stored");
    assert.equal((await fx.api("POST", "/api/notifications", notification, bearer(HR_KEY))).status, 202, "another caller");
    assert.equal((await fx.api("GET", "/api/notifications", undefined, bearer(PIPELINE_KEY))).status, 200, "reads are not limited");
  });

  it("the rate limit refills over time (token bucket, per caller)", () => {
    let now = 0;
    const limit = new CallerRateLimit(60, () => now);
    for (let i = 0; i < 60; i++) limit.take("a");
    const refused = (() => {
      try {
        limit.take("a");
      } catch (error) {
        return error as ApiError;
      }
      return undefined;
    })();
    assert.equal(refused?.status, 429);
    assert.equal(refused?.retryAfterSeconds, 1);
    limit.take("b");
    now += 1000;
    limit.take("a");
    assert.throws(() => limit.take("a"), (e: unknown) => e instanceof ApiError && e.status === 429);
    now += 60_000;
    for (let i = 0; i < 60; i++) limit.take("a");
    new CallerRateLimit(0, () => now).take("unlimited");
  });
});
