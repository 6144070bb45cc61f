import { strict as assert } from "node:assert";
import http from "node:http";
import type { AddressInfo } from "node:net";
import sinon from "sinon";
import { MemoryStore } from "../../src/store/memory";
import { BotFrameworkIssuer, PUBLIC_ISSUER, type TokenOptions } from "../support/bot-framework-issuer";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";
import { captureLog, type CapturedLog } from "../support/log-capture";
import { snapshotMemoryStore } from "../support/store-snapshot";

const BOT_ID = "00000000-0000-4000-8000-00000000b075"; // the emulator's default bot: activities name it as recipient
const GOV_ISSUER = "https://api.botframework.us";

/**
 * Herald with BOT_ID set, trusting a loopback OpenID configuration (test keys endorsed for msteams) instead of
 * login.botframework.com. Only ToBotFromChannelOpenIdMetadataUrl is overridden: everything else must stay the
 * public cloud's (botbuilder alone would leave the issuer undefined and reject every token).
 */
describe("inbound Bot Framework authentication (loopback OpenID configuration and JWKS)", function () {
  let issuer: BotFrameworkIssuer;
  let fx: HeraldFixture;
  let store: MemoryStore;
  let log: CapturedLog;

  before(async () => {
    issuer = await BotFrameworkIssuer.start();
  });
  after(async () => {
    await issuer.stop();
  });

  async function start(env: Record<string, string> = {}, variant = "default", inboundAuthTimeoutMs?: number): Promise<void> {
    store = new MemoryStore();
    log = captureLog();
    fx = await startHerald({
      store,
      logger: log.logger,
      overrides: { inboundAuthTimeoutMs },
      env: {
        BOT_ID, BOT_PASSWORD: "test-password-not-used", HERALD_API_KEY: "test-key-0123456789abcdef",
        ToBotFromChannelOpenIdMetadataUrl: issuer.metadataUrl(variant),
        ...env,
      },
    });
    // botbuilder prints rejected tokens' errors with console.error; Herald's own log is what the tests read.
    sinon.stub(console, "error");
  }

  /** A message with no text: Herald records the conversation and sends nothing, so no outbound token is needed. */
  function silentMessage(): Record<string, any> {
    const user = fx.tenant.users[0];
    return fx.driver.buildMessage(user, user, undefined);
  }

  async function post(activity: Record<string, unknown>, authorization?: string) {
    const res = await fetch(`${fx.url}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(activity),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, retryAfter: res.headers.get("retry-after") };
  }

  const bearer = (claims: Parameters<BotFrameworkIssuer["channelToken"]>[0], options?: TokenOptions) =>
    `Bearer ${issuer.channelToken(claims, options)}`;

  describe("one Herald per test", () => {
  afterEach(async () => {
    sinon.restore();
    await fx?.stop();
  });

  it("accepts a valid token: 200, and the conversation is recorded", async () => {
    await start();
    const activity = silentMessage();
    const res = await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await store.targets.count({}), 1);
    assert.equal((await store.targets.list({}, 1)).items[0]!.conversationId, activity.conversation.id);
  });

  });

  const now = () => Math.floor(Date.now() / 1000);
  const forgeries: Array<[string, (serviceUrl: string) => string | undefined]> = [
    ["no Authorization header", () => undefined],
    ["a token signed by another key under the published kid (wrong signature)", (s) => bearer({ aud: BOT_ID, serviceurl: s }, { key: "unpublished", kid: issuer.kid("teams") })],
    ["a token whose kid the key set does not have", (s) => bearer({ aud: BOT_ID, serviceurl: s }, { key: "unpublished" })],
    ["an expired token", (s) => bearer({ aud: BOT_ID, serviceurl: s, nbf: now() - 7200, exp: now() - 3600 })],
    ["a token whose nbf is in the future", (s) => bearer({ aud: BOT_ID, serviceurl: s, nbf: now() + 3600, exp: now() + 7200 })],
    ["a token for another bot (wrong audience)", (s) => bearer({ aud: "11111111-2222-4333-8444-555555555555", serviceurl: s })],
    ["a token from another issuer", (s) => bearer({ aud: BOT_ID, serviceurl: s, iss: "https://evil.example.com" })],
    ["an unsigned token (alg: none)", (s) => bearer({ aud: BOT_ID, serviceurl: s }, { alg: "none" })],
    ["an HS256 token keyed with the public key", (s) => bearer({ aud: BOT_ID, serviceurl: s }, { alg: "HS256-public-key" })],
    ["a serviceurl claim that differs from the activity's serviceUrl", () => bearer({ aud: BOT_ID, serviceurl: "https://evil.example.com/teams/" })],
    ["a key that is not endorsed for msteams", (s) => bearer({ aud: BOT_ID, serviceurl: s }, { key: "notEndorsedForTeams" })],
    ["a scheme other than Bearer", (s) => bearer({ aud: BOT_ID, serviceurl: s }).replace("Bearer", "Basic")],
    ["garbage in place of a token", () => "Bearer not.a.jwt"],
  ];

  describe("rejects each forgery with 401 JSON, stores nothing, and logs why", () => {
    before(async () => {
      await start();
      // Warm the key cache with one good request, so every forgery meets cached keys, as in production.
      const activity = silentMessage();
      assert.equal((await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl }))).status, 200);
      sinon.restore(); // before/after hooks of this block own the fixture
    });
    beforeEach(() => {
      sinon.stub(console, "error");
    });
    afterEach(() => {
      sinon.restore();
    });
    after(async () => {
      await fx.stop();
    });

    for (const [name, authorization] of forgeries) {
      it(name, async () => {
        const activity: Record<string, any> = { ...silentMessage(), conversation: { conversationType: "personal", tenantId: fx.tenant.tenantId, id: `a:forged-${Math.random()}` } };
        const before = snapshotMemoryStore(store);
        const logged = log.entries().length;
        const res = await post(activity, authorization(activity.serviceUrl));
        assert.equal(res.status, 401, JSON.stringify(res.body));
        assert.equal(res.body.error.code, "unauthorized");
        assert.equal(snapshotMemoryStore(store), before, "nothing stored");
        const entry = log.entries().slice(logged).find((e) => e.msg === "activity rejected: authentication");
        assert.ok(entry, "the rejection is logged");
        assert.equal(typeof entry.reason, "string");
        assert.ok((entry.reason as string).length > 0);
      });
    }
  });

  describe("keys out of reach, and clouds", () => {
  afterEach(async () => {
    sinon.restore();
    await fx?.stop();
  });

  it("answers 503 with Retry-After, never 500, while the OpenID metadata cannot be fetched — then recovers", async () => {
    await start({}, "outage");
    issuer.metadataStatus = 503;
    try {
      const activity = silentMessage();
      const token = bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl });
      const down = await post(activity, token);
      assert.equal(down.status, 503, JSON.stringify(down.body));
      assert.equal(down.body.error.code, "auth_unavailable");
      assert.ok(Number(down.retryAfter) > 0, "Retry-After");
      assert.equal(await store.targets.count({}), 0);
      assert.match(JSON.stringify(log.entries().find((e) => e.status === 503)), /openID config/i);

      issuer.metadataStatus = 200;
      assert.equal((await post(activity, token)).status, 200, "accepted once the keys can be read");
    } finally {
      issuer.metadataStatus = 200;
    }
  });

  it("answers 503 when the metadata endpoint never answers, after a bounded wait", async () => {
    await start({}, "hang", 300);
    issuer.metadataStatus = 0;
    try {
      const activity = silentMessage();
      const res = await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl }));
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.ok(res.retryAfter);
      assert.match(String(log.entries().find((e) => e.status === 503)?.reason), /no answer from the OpenID metadata within 300 ms/);
    } finally {
      issuer.metadataStatus = 200;
    }
  });

  it("answers 503 when nothing listens at the metadata URL (connection refused)", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await start({ ToBotFromChannelOpenIdMetadataUrl: `http://127.0.0.1:${port}/v1/.well-known/openidconfiguration` });
    const activity = silentMessage();
    const res = await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl }));
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.ok(res.retryAfter);
  });

  it("a forged token is still 401 while the metadata is down when its issuer is wrong (checked before any fetch)", async () => {
    await start({}, "outage-2");
    issuer.metadataStatus = 500;
    try {
      const activity = silentMessage();
      const res = await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl, iss: "https://evil.example.com" }));
      assert.equal(res.status, 401);
    } finally {
      issuer.metadataStatus = 200;
    }
  });

  it("in the US Government cloud (ChannelService), the government issuer is expected and the public one refused", async () => {
    await start({ ChannelService: "https://botframework.azure.us" }, "gov");
    const activity = silentMessage();
    assert.equal((await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl, iss: PUBLIC_ISSUER }))).status, 401);
    assert.equal((await post(activity, bearer({ aud: BOT_ID, serviceurl: activity.serviceUrl, iss: GOV_ISSUER }))).status, 200);
  });
  });
});
