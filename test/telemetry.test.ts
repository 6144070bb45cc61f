import { strict as assert } from "node:assert";
import { SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { createLocalTelemetry } from "../src/telemetry";
import { eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";

const API_KEY = "metrics-key-0123456789abcdef";
const auth = { authorization: `Bearer ${API_KEY}` };
const FAST_RETRIES = { backoff: { baseMs: 5, maxMs: 20, jitter: 0 } };

/** Sum of the samples of `name` whose labels include `labels` (Prometheus text exposition format). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => present[key] === value)) {
      total += Number(match[3]);
      seen = true;
    }
  }
  return seen ? total : NaN;
}

async function completed(fx: HeraldFixture, id: string, status = "completed") {
  return eventually(async () => {
    const res = await fx.api("GET", `/api/notifications/${id}`, undefined, auth);
    return res.body.status === status ? res.body : undefined;
  }, `notification ${id} to be ${status}`);
}

describe("telemetry: metrics at GET /api/metrics and traces", function () {
  this.timeout(30_000);
  let fx: HeraldFixture;
  const spans = new InMemorySpanExporter();

  beforeEach(async () => {
    spans.reset();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    fx = await startHerald({
      env: { HERALD_API_KEY: API_KEY },
      overrides: { engine: FAST_RETRIES, telemetry: createLocalTelemetry({ tracerProvider }) },
    });
  });
  afterEach(async () => {
    await fx.stop();
  });

  it("is behind the API's authentication, with a JSON error", async () => {
    const res = await fx.api("GET", "/api/metrics");
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "unauthorized");
    const ok = await fetch(`${fx.url}/api/metrics`, { headers: auth });
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(await ok.text(), "herald_up"), 1);
  });

  it("a broadcast's outcomes, requests, 429s, retries, installs and duration read back as the report says", async () => {
    const tenant = fx.tenant.tenantId;
    const [alice, bob, carol, dave, erin] = fx.tenant.users;
    for (const user of [alice, bob, carol, dave, erin]) await fx.driver.installPersonal(user);
    await fx.driver.installTeam(fx.tenant.teams[0], alice);
    await fx.driver.uninstallPersonal(erin);
    await fx.rostersSynced();
    fx.emulator.reset();
    fx.emulator.addFault({ match: { route: "send", conversationId: alice.personalConversationId }, status: 429, retryAfterSeconds: 0, times: 1 });
    fx.emulator.addFault({ match: { route: "send", conversationId: bob.personalConversationId }, status: 503, times: 1 });
    fx.emulator.addFault({ match: { route: "send", conversationId: carol.personalConversationId }, status: 403, code: "BotNotInConversationRoster" });
    fx.emulator.addFault({ match: { route: "send", conversationId: dave.personalConversationId }, status: 400, code: "BadArgument" });

    const created = await fx.api("POST", "/api/notifications", { title: "Metrics", text: "read back" }, auth);
    assert.equal(created.status, 202);
    const report = await completed(fx, created.body.id);
    assert.deepEqual(
      { total: report.counts.total, sent: report.counts.sent, failed: report.counts.failed, gone: report.counts.gone },
      { total: 5, sent: 3, failed: 1, gone: 1 },
    );

    const text = await (await fetch(`${fx.url}/api/metrics`, { headers: auth })).text();
    assert.equal(sample(text, "herald_deliveries_total", { outcome: "sent", tenant }), report.counts.sent);
    assert.equal(sample(text, "herald_deliveries_total", { outcome: "failed", tenant }), report.counts.failed);
    assert.equal(sample(text, "herald_deliveries_total", { outcome: "gone", tenant }), report.counts.gone);
    // alice: 429 then sent; bob: 503 then sent; carol: gone; dave: failed; the team's channel: sent.
    assert.equal(sample(text, "herald_connector_requests_total", { operation: "send", tenant }), 7);
    assert.equal(sample(text, "herald_connector_requests_total", { operation: "send", outcome: "throttled", status: "429" }), 1);
    assert.equal(sample(text, "herald_connector_requests_total", { operation: "send", outcome: "transient", status: "503" }), 1);
    assert.equal(sample(text, "herald_connector_requests_total", { outcome: "gone", status: "403", code: "BotNotInConversationRoster" }), 1);
    assert.equal(sample(text, "herald_connector_requests_total", { outcome: "failed", status: "400", code: "BadArgument" }), 1);
    assert.equal(sample(text, "herald_delivery_retries_total", { reason: "throttled", tenant }), 1);
    assert.equal(sample(text, "herald_delivery_retries_total", { reason: "transient", tenant }), 1);
    assert.equal(sample(text, "herald_job_duration_count", { status: "completed" }), 1);
    assert.equal(sample(text, "herald_installs_total", { kind: "personal", tenant }), 5);
    assert.equal(sample(text, "herald_installs_total", { kind: "channel", tenant }), 1);
    assert.equal(sample(text, "herald_uninstalls_total", { kind: "personal", reason: "uninstalled", tenant }), 1);
    assert.equal(sample(text, "herald_deliveries_waiting"), 0);
    assert.equal(sample(text, "herald_engine_in_flight"), 0);
  });

  it("counts deliveries waiting while a notification is held back, and none once it is cancelled", async () => {
    const [alice, bob] = fx.tenant.users;
    await fx.driver.installPersonal(alice);
    await fx.driver.installPersonal(bob);
    fx.emulator.reset();
    // Teams says "come back in a minute" to both: the deliveries stay pending in the store.
    fx.emulator.addFault({ match: { route: "send" }, status: 429, retryAfterSeconds: 60 });
    const { body } = await fx.api("POST", "/api/notifications", { title: "Held", text: "back" }, auth);
    const metrics = async () => (await fetch(`${fx.url}/api/metrics`, { headers: auth })).text();
    await eventually(async () => sample(await metrics(), "herald_delivery_retries_total", { reason: "throttled" }) === 2, "both 429s");
    const held = await metrics();
    assert.equal(sample(held, "herald_deliveries_waiting"), 2, held);

    assert.equal((await fx.api("POST", `/api/notifications/${body.id}/cancel`, undefined, auth)).status, 200);
    const text = await metrics();
    assert.equal(sample(text, "herald_deliveries_waiting"), 0);
    assert.equal(sample(text, "herald_deliveries_total", { outcome: "cancelled" }), 2);
    assert.equal(sample(text, "herald_job_duration_count", { status: "cancelled" }), 1);
  });

  it("traces each connector call with tenant, job, delivery, attempt and status; API requests by route; bot turns", async () => {
    const [alice, bob] = fx.tenant.users;
    await fx.driver.installPersonal(alice);
    await fx.driver.installPersonal(bob);
    fx.emulator.reset();
    fx.emulator.addFault({ match: { route: "send", conversationId: alice.personalConversationId }, status: 429, retryAfterSeconds: 0, times: 1 });
    const { body } = await fx.api("POST", "/api/notifications", { title: "Traced", text: "calls" }, auth);
    await completed(fx, body.id);

    const finished = spans.getFinishedSpans();
    const sends = finished.filter((s) => s.name === "teams send");
    const aliceKey = `_${fx.tenant.tenantId}_${alice.personalConversationId}`;
    const attemptsOfAlice = sends.filter((s) => s.attributes["herald.delivery.recipient"] === aliceKey)
      .map((s) => [s.attributes["herald.attempt"], s.attributes["http.response.status_code"] ?? "ok", s.attributes["herald.outcome"]]);
    assert.deepEqual(attemptsOfAlice, [[1, 429, "throttled"], [2, "ok", "ok"]]);
    for (const span of sends) {
      assert.equal(span.attributes["herald.tenant.id"], fx.tenant.tenantId);
      assert.equal(span.attributes["herald.job.id"], body.id);
      assert.ok(span.endTime[0] * 1e3 + span.endTime[1] / 1e6 >= span.startTime[0] * 1e3 + span.startTime[1] / 1e6);
    }
    const job = (await eventually(() => spans.getFinishedSpans().find((s) => s.name === "herald notification"), "the notification's span"))!;
    assert.equal(job.attributes["herald.job.id"], body.id);
    assert.equal(job.attributes["herald.job.sent"], 2);

    const apiSpan = (method: string, route: string) => spans.getFinishedSpans().find((s: ReadableSpan) => s.name === `${method} ${route}`);
    const post = apiSpan("POST", "/api/notifications");
    assert.equal(post?.attributes["http.response.status_code"], 202);
    const get = apiSpan("GET", "/api/notifications/:id");
    assert.equal(get?.attributes["http.route"], "/api/notifications/:id");
    await fx.api("GET", "/api/notifications/does-not-exist", undefined, auth);
    await eventually(() => spans.getFinishedSpans().some((s) => s.name === "GET /api/notifications/:id" && s.attributes["http.response.status_code"] === 404), "the 404's span");

    await fx.api("GET", "/api/health");
    await fx.api("GET", "/api/metrics", undefined, auth);
    assert.ok(!spans.getFinishedSpans().some((s) => /\/api\/(health|metrics)/.test(s.name)), "probes and scrapes are not traced");

    const turns = spans.getFinishedSpans().filter((s) => s.name === "bot installationUpdate");
    assert.equal(turns.length, 2);
    assert.equal(turns[0].attributes["herald.conversation.type"], "personal");
    assert.equal(turns[0].attributes["herald.tenant.id"], fx.tenant.tenantId);
    assert.equal(turns[0].status.code, SpanStatusCode.UNSET, "the turn succeeded");
  });
});
