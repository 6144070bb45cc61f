/**
 * Property-based fuzzing of Herald's two doors (fast-check): 10,000 generated bodies on POST /api/notifications
 * and 10,000 Teams-shaped activities with mutated fields on POST /api/messages. For every request: no answer
 * ≥ 500; a refused request (4xx) changed nothing in the store; and at the end the process never saw an uncaught
 * exception or unhandled rejection and still answers its health check. The counts per status are printed — the
 * README's Security section quotes a run. HERALD_FUZZ_RUNS overrides the number of runs, HERALD_FUZZ_SEED the seed.
 *
 * Every serviceUrl an activity can carry is the connector emulator's or not a URL: the bot answers there, so a
 * generated URL must never point off this machine.
 */
import { strict as assert } from "node:assert";
import http from "node:http";
import fc from "fast-check";
import sinon from "sinon";
import { MemoryStore } from "../../src/store/memory";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";
import { activityMutations, keepOnLoopback, notificationBodies, setPath } from "../support/fuzz-generators";
import { countWrites, type CountedStore } from "../support/write-counter";

const RUNS = Number(process.env.HERALD_FUZZ_RUNS ?? 10_000);
const SEED = process.env.HERALD_FUZZ_SEED ? Number(process.env.HERALD_FUZZ_SEED) : undefined;
const API_KEY = "fuzz-key-0123456789abcdef";

// ------------------------------------------------------------------------------------------------ tests

describe("fuzzing the trust boundary (fast-check)", function () {
  this.timeout(600_000);
  let fx: HeraldFixture;
  let counted: CountedStore;
  const crashes: unknown[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const onCrash = (error: unknown) => crashes.push(error);

  before(async () => {
    counted = countWrites(new MemoryStore());
    fx = await startHerald({
      store: counted.store,
      env: { HERALD_API_KEY: API_KEY, HERALD_ALLOWED_TENANTS: "tenant-contoso", HERALD_API_RATE_LIMIT: "0" },
      // Thousands of notifications to the same few chats: Teams' pacing windows, a thousand times shorter.
      overrides: { engine: { timeScale: 0.001 } },
    });
    const [alice, bob] = fx.tenant.users;
    await fx.driver.installPersonal(alice);
    await fx.driver.installPersonal(bob);
    await fx.driver.installTeam(fx.tenant.teams[0], alice);
    await fx.driver.installGroupChat(fx.tenant.groupChats[0], bob);
    await settle();
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    // botbuilder and TeamsFx print failed turns (unknown conversations, bad ids) to the console.
    sinon.stub(console, "error");
    sinon.stub(console, "warn");
  });

  after(async () => {
    sinon.restore();
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
    agent.destroy();
    await fx?.stop();
  });

  /** Background work an accepted request started (roster syncs, sending) finishes before the next request. */
  async function settle(): Promise<void> {
    await fx.rostersSynced();
    await fx.herald.engine.idle();
  }

  function summary(name: string, statuses: Map<number, number>, ms: number): void {
    const parts = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(`      ${name}: ${total} requests in ${(ms / 1000).toFixed(1)} s — ${parts.join(", ")}`);
  }

  /** A POST over a keep-alive socket (node:http: a fraction of fetch's cost per request, which adds up here). */
  function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${fx.url}${path}`, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Herald's own error body `{"error": {"code", "message"}}`, if that is what a 4xx carries. */
  function herald4xx(body: string): string | undefined {
    try {
      const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
      return typeof code === "string" ? code : undefined;
    } catch {
      return undefined;
    }
  }

  async function alive(): Promise<void> {
    assert.deepEqual(crashes, [], "no uncaught exception or unhandled rejection");
    const health = await fx.api("GET", "/api/health");
    assert.equal(health.status, 200, "the process still answers");
  }

  it(`${RUNS} generated bodies on POST /api/notifications: no 5xx, refused ones change nothing`, async () => {
    const [alice] = fx.tenant.users;
    const known = { teamId: fx.tenant.teams[0].id, aad: alice.aadObjectId, upn: alice.userPrincipalName, userId: alice.id, conversationId: alice.personalConversationId };
    const statuses = new Map<number, number>();
    const started = Date.now();
    await fc.assert(fc.asyncProperty(notificationBodies(known), async ({ body, contentType }) => {
      const writes = counted.writes();
      const res = await post("/api/notifications", body, { authorization: `Bearer ${API_KEY}`, ...(contentType ? { "content-type": contentType } : {}) });
      const answer = res.body;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) assert.fail(`${res.status} ${answer} for ${body.slice(0, 300)}`);
      if (res.status >= 400) {
        if (counted.writes() !== writes) assert.fail(`a refused request wrote: ${counted.log().slice(writes).join(", ")} (${body.slice(0, 300)})`);
        assert.ok(JSON.parse(answer).error.code, "errors are JSON");
      } else {
        await settle();
      }
    }), { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) });
    summary("POST /api/notifications", statuses, Date.now() - started);
    assert.ok((statuses.get(202) ?? 0) > RUNS * 0.02, "the generator also reaches valid requests");
    assert.ok([...statuses.keys()].filter((s) => s >= 400).length >= 3, "and several kinds of refusal");
    await alive();
  });

  it(`${RUNS} mutated Teams activities on POST /api/messages: no 5xx, refused ones change nothing`, async () => {
    const { users, teams, groupChats, tenantId } = fx.tenant;
    const [alice, bob] = users;
    const team = teams[0];
    const chat = groupChats[0];
    const d = fx.driver;
    const bases: Array<() => Record<string, any>> = [
      () => d.buildMessage(alice, alice, "help"),
      () => d.buildMessage(bob, bob, undefined),
      () => d.buildMessage(chat, alice, "stop builds"),
      () => d.buildMessage(team, bob, "status"),
      () => ({ ...d.buildMessage(alice, alice, undefined), value: { herald: "optout", category: "builds" } }),
      () => d.installation(alice, alice, "add"),
      () => d.installation(team, alice, "add"),
      () => d.installation(chat, bob, "remove"),
      () => d.botMembership(chat, alice, "membersAdded"),
      () => d.rosterChange(team, [bob], alice, "membersAdded"),
      () => d.rosterChange(chat, [alice], bob, "membersRemoved"),
      () => d.teamEvent(team, alice, "teamRenamed"),
      () => ({ ...d.buildMessage(alice, alice, undefined), type: "invoke", name: "adaptiveCard/action", value: { action: { type: "Action.Execute" } } }),
    ];
    const ids = [alice.id, bob.id, alice.aadObjectId, alice.personalConversationId, team.id, chat.id, tenantId, `28:${"00000000-0000-4000-8000-00000000b075"}`];
    const statuses = new Map<number, number>();
    const started = Date.now();
    await fc.assert(fc.asyncProperty(activityMutations({ serviceUrl: fx.serviceUrl, ids }), async ({ base, mutations }) => {
      const activity: Record<string, any> = { channelId: "msteams", serviceUrl: fx.serviceUrl, ...bases[base % bases.length]!() };
      for (const [path, value] of mutations) setPath(activity, path, value);
      keepOnLoopback(activity, fx.serviceUrl);
      const body = JSON.stringify(activity);
      const writes = counted.writes();
      const res = await d.post(JSON.parse(body));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) assert.fail(`${res.status} ${res.body} for ${body.slice(0, 400)}`);
      const refusal = res.status >= 400 ? herald4xx(res.body) : undefined;
      if (res.status >= 400 && !refusal && activity.type !== "invoke") assert.fail(`${res.status} without Herald's JSON error: ${res.body.slice(0, 200)}`);
      if (refusal) {
        // Herald refused it (400 / 403 / 413 ...). An invoke's own 4xx answer is the bot's reply, not a refusal.
        if (counted.writes() !== writes) assert.fail(`a refused activity wrote: ${counted.log().slice(writes).join(", ")} (${body.slice(0, 400)})`);
      } else {
        await settle();
      }
    }), { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) });
    summary("POST /api/messages", statuses, Date.now() - started);
    assert.ok((statuses.get(200) ?? 0) > RUNS * 0.05, "the mutations also leave valid activities");
    assert.ok((statuses.get(400) ?? 0) > RUNS * 0.05, "and malformed ones");
    assert.ok((statuses.get(403) ?? 0) > 0, "and foreign tenants");
    await alive();
  });
});
