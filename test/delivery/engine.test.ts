import assert from "node:assert/strict";
import { Writable } from "node:stream";
import pino from "pino";
import type { RequestEvent } from "../../src/delivery/delivery-events";
import type { DeliveryEngine } from "../../src/delivery/engine";
import type { ConnectorEmulator, SeededTenant } from "../../src/emulator";
import { MemoryStore } from "../../src/store/memory";
import type { Delivery, DeliveryInput, HeraldStore, Job } from "../../src/store/types";
import {
  RecordingConnector, botConnector, createJob, deliveredCounts, installAll, newEngine, startEmulator, userRecipient,
} from "./support";

/** Teams' windows run 10x faster in the emulator and in the engine alike. */
const TIME_SCALE = 0.1;

describe("delivery/engine (connector emulator + memory store)", function () {
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  let store: HeraldStore;
  let engine: DeliveryEngine | undefined;
  let connector: RecordingConnector;

  beforeEach(async () => {
    ({ emulator, serviceUrl } = await startEmulator({ timeScale: TIME_SCALE, latencyMs: 2 }));
    store = new MemoryStore();
    connector = new RecordingConnector(botConnector());
  });
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
    await emulator.stop();
  });

  async function run(deliveries: DeliveryInput[], options: Parameters<typeof newEngine>[2] = {}, jobExtra: Partial<Job> = {}): Promise<Job> {
    engine ??= newEngine(store, connector, { timeScale: TIME_SCALE, ...options });
    await engine.start();
    const job = await createJob(store, deliveries, jobExtra);
    engine.wake(job.id);
    await engine.idle();
    return (await store.jobs.getJob(job.id))!;
  }

  async function delivery(job: Job, input: DeliveryInput): Promise<Delivery> {
    return (await store.jobs.getDelivery(job.id, input.recipientKey))!;
  }

  function seed(tenantId: string, users: number): SeededTenant {
    return emulator.seed({ tenantId, users });
  }

  it("broadcasts to every installation exactly once and accounts for every target", async () => {
    const tenant = seed("t-broadcast", 120);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const job = await run(deliveries);

    assert.equal(job.status, "completed");
    assert.ok(job.startedAt && job.finishedAt);
    const counts = await store.jobs.counts(job.id);
    assert.equal(counts.sent, 120);
    assert.equal(counts.sent + counts.failed + counts.gone + counts.skipped + counts.cancelled + counts.pending + counts.sending, counts.total);
    const perConversation = deliveredCounts(emulator);
    assert.equal(perConversation.size, 120);
    assert.ok([...perConversation.values()].every((n) => n === 1), "no duplicates");
    // The stored activity id is the one Teams (the emulator) assigned.
    for (const input of deliveries.slice(0, 10)) {
      const d = await delivery(job, input);
      assert.equal(d.activityId, emulator.delivered(input.recipient.conversationId)[0].activityId);
    }
  });

  it("honours Retry-After on a 429: no request to that thread before it, and it does not use up an attempt", async () => {
    const tenant = seed("t-429", 8);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const throttledConversation = tenant.users[3].personalConversationId;
    emulator.addFault({ match: { route: "send", conversationId: throttledConversation }, status: 429, retryAfterSeconds: 0.3, times: 1 });
    const job = await run(deliveries, { maxAttempts: 1 });

    const calls = connector.callsTo(throttledConversation);
    assert.equal(calls.length, 2);
    assert.equal(calls[0].result, "error");
    assert.ok(calls[1].at - calls[0].settledAt! >= 300, `retried after ${calls[1].at - calls[0].settledAt!} ms`);
    const d = await delivery(job, deliveries[3]);
    assert.equal(d.status, "sent");
    assert.equal(d.throttled, 1);
    assert.equal(d.attempts, 2);
    assert.equal(job.throttleRetries, 1);
    assert.equal(emulator.delivered(throttledConversation).length, 1);
  });

  it("backs off exponentially on a 429 without Retry-After", async () => {
    const tenant = seed("t-429b", 3);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const target = tenant.users[0].personalConversationId;
    emulator.addFault({ match: { route: "send", conversationId: target }, status: 429, times: 3 });
    const job = await run(deliveries, { backoff: { baseMs: 40, maxMs: 10_000, jitter: 0 } });

    const calls = connector.callsTo(target);
    assert.equal(calls.length, 4);
    const waits = calls.slice(1).map((c, i) => c.at - calls[i].settledAt!);
    [40, 80, 160].forEach((min, i) => assert.ok(waits[i] >= min, `wait ${i + 1} was ${waits[i]} ms, expected >= ${min}`));
    const d = await delivery(job, deliveries[0]);
    assert.equal(d.status, "sent");
    assert.equal(d.throttled, 3);
  });

  it("gives up on a delivery throttled more than maxThrottleRetries times: bound + 1 requests, and the reason says so", async () => {
    const tenant = seed("t-429-bound", 3);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const target = tenant.users[1].personalConversationId;
    // Twenty 429s in a row: without the bound the delivery would be sent on the 21st request.
    const fault = emulator.addFault({ match: { route: "send", conversationId: target }, status: 429, retryAfterSeconds: 0.01, times: 20 });
    const job = await run(deliveries, { maxThrottleRetries: 3 });

    const d = await delivery(job, deliveries[1]);
    assert.equal(d.status, "failed");
    assert.match(d.reason!, /^429 throttled .*; throttled 4 times, giving up$/);
    assert.equal(d.throttled, 4);
    // What Teams saw: the bound's 3 retries after the first request, and not one more.
    assert.equal(emulator.requests({ route: "send", limitKey: target }).length, 4);
    assert.equal(emulator.listFaults().find((f) => f.id === fault)?.remaining, 16);
    assert.equal(emulator.delivered(target).length, 0);
    for (const i of [0, 2]) assert.equal((await delivery(job, deliveries[i])).status, "sent");
    assert.equal(job.status, "completed");
    assert.equal(job.throttleRetries, 4);
  });

  it("gives up on a roster read throttled more than maxThrottleRetries times: bound + 1 requests", async () => {
    const tenant = emulator.seed({ tenantId: "t-roster-bound", users: 10, teams: [{ name: "Ops", memberCount: 10 }] });
    emulator.addFault({ match: { route: "members" }, status: 429, retryAfterSeconds: 0.01, times: 20 });
    engine = newEngine(store, connector, { timeScale: TIME_SCALE, maxThrottleRetries: 2 });
    await engine.start();
    await assert.rejects(engine.getPagedMembers(serviceUrl, tenant.tenantId, tenant.teams[0].id, 50), (err: { statusCode?: number }) => err.statusCode === 429);
    assert.equal(emulator.requests({ route: "members" }).length, 3);
  });

  it("retries 412, 502, 503 and 504 up to maxAttempts, one HTTP request per attempt", async () => {
    const tenant = seed("t-transient", 6);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const statuses = [412, 502, 503, 504];
    statuses.forEach((status, i) => emulator.addFault({ match: { route: "send", conversationId: tenant.users[i].personalConversationId }, status }));
    emulator.addFault({ match: { route: "send", conversationId: tenant.users[4].personalConversationId }, status: 503, times: 2 });
    const job = await run(deliveries, { maxAttempts: 3 });

    for (const [i, status] of statuses.entries()) {
      const d = await delivery(job, deliveries[i]);
      assert.equal(d.status, "failed", `status ${status}`);
      assert.equal(d.attempts, 3);
      assert.match(d.reason!, new RegExp(`^${status} .*gave up after 3 attempts`));
      assert.equal(connector.callsTo(tenant.users[i].personalConversationId).length, 3);
    }
    const recovered = await delivery(job, deliveries[4]);
    assert.equal(recovered.status, "sent");
    assert.equal(recovered.attempts, 3);
    assert.equal(recovered.reason, "sent on attempt 3");
    assert.equal((await delivery(job, deliveries[5])).status, "sent");
    // botbuilder's own retry policy is off: Teams saw exactly the engine's attempts.
    assert.equal(emulator.stats().requests, connector.calls.length);
    assert.equal(job.status, "completed");
  });

  it("does not retry 500, 400 or a 403 with another code", async () => {
    const tenant = seed("t-final", 4);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const faults = [{ status: 500 }, { status: 400 }, { status: 403, code: "Forbidden" }];
    faults.forEach((f, i) => emulator.addFault({ match: { route: "send", conversationId: tenant.users[i].personalConversationId }, ...f }));
    const job = await run(deliveries);

    const reasons = [/^500 InternalServerError/, /^400 BadArgument/, /^403 Forbidden/];
    for (const [i, reason] of reasons.entries()) {
      const d = await delivery(job, deliveries[i]);
      assert.equal(d.status, "failed");
      assert.equal(d.attempts, 1);
      assert.match(d.reason!, reason);
      assert.equal(connector.callsTo(tenant.users[i].personalConversationId).length, 1);
    }
    assert.equal((await delivery(job, deliveries[3])).status, "sent");
  });

  it("marks a job failed when no delivery succeeded", async () => {
    const tenant = seed("t-allfail", 3);
    const deliveries = await installAll(store, serviceUrl, tenant);
    emulator.addFault({ match: { route: "send" }, status: 400 });
    const job = await run(deliveries);
    assert.equal(job.status, "failed");
    assert.match(job.error!, /no delivery succeeded \(3 failed\)/);
    assert.ok(job.finishedAt);
  });

  it("prunes gone targets: 403 BotNotInConversationRoster / ConversationBlockedByUser, 404 ConversationNotFound", async () => {
    const tenant = seed("t-gone", 4);
    const deliveries = await installAll(store, serviceUrl, tenant);
    emulator.addFault({ match: { route: "send", conversationId: tenant.users[0].personalConversationId }, status: 403, code: "BotNotInConversationRoster" });
    emulator.addFault({ match: { route: "send", conversationId: tenant.users[1].personalConversationId }, status: 403, code: "ConversationBlockedByUser" });
    // A conversation Teams does not know at all: the emulator answers a genuine 404 ConversationNotFound.
    const deleted = await installAll(store, serviceUrl, { ...tenant, users: [{ ...tenant.users[2], personalConversationId: "a:deleted-chat" }] });
    const job = await run([...deliveries, ...deleted]);

    const expected: Array<[DeliveryInput, string]> = [
      [deliveries[0], "BotNotInConversationRoster"], [deliveries[1], "ConversationBlockedByUser"], [deleted[0], "ConversationNotFound"],
    ];
    for (const [input, reason] of expected) {
      const d = await delivery(job, input);
      assert.equal(d.status, "gone");
      assert.equal(d.reason, reason);
      assert.equal(d.attempts, 1, "never retried");
      const target = await store.targets.get(input.recipient.targetKey!);
      assert.equal(target?.status, "gone");
      assert.equal(target?.goneReason, reason);
    }
    // What a later broadcast's audience (active targets) still contains:
    const active = await store.targets.list({ tenantId: "t-gone", status: "active" }, 100);
    assert.deepEqual(active.items.map((t) => t.key).sort(), [deliveries[2].recipientKey, deliveries[3].recipientKey].sort());
    const counts = await store.jobs.counts(job.id);
    assert.deepEqual([counts.gone, counts.sent], [3, 2]);
  });

  it("cancels a running job: pending deliveries are cancelled, in-flight ones finish, nothing else is sent", async () => {
    const tenant = seed("t-cancel", 300);
    const deliveries = await installAll(store, serviceUrl, tenant);
    // Real-time pacing (50/s) so the job is still running when we cancel it.
    engine = newEngine(store, connector, { timeScale: TIME_SCALE, perTenantPerSecond: 5 });
    await engine.start();
    const job = await createJob(store, deliveries);
    engine.wake(job.id);
    while ((await store.jobs.counts(job.id)).sent < 10) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await engine.cancel(job.id), true);

    const after = (await store.jobs.getJob(job.id))!;
    assert.equal(after.status, "cancelled");
    assert.ok(after.finishedAt);
    const counts = await store.jobs.counts(job.id);
    assert.equal(counts.pending + counts.sending, 0);
    assert.equal(counts.sent + counts.cancelled, 300);
    assert.ok(counts.cancelled > 200);
    await engine.idle();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(emulator.delivered().length, counts.sent, "only the sent ones reached Teams, once each");
    assert.equal(await engine.cancel(job.id), false, "a finished job cannot be cancelled");
  });

  it("re-sends a 5xx that Teams had in fact delivered: one duplicate per such attempt, as documented", async () => {
    const tenant = seed("t-dup", 5);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const target = tenant.users[2].personalConversationId;
    emulator.addFault({ match: { route: "send", conversationId: target }, status: 503, deliverAnyway: true, times: 1 });
    const job = await run(deliveries);

    const d = await delivery(job, deliveries[2]);
    assert.equal(d.status, "sent");
    assert.equal(d.attempts, 2);
    assert.equal(emulator.delivered(target).length, 2);
    assert.equal(emulator.delivered(target).filter((a) => a.faulted).length, 1);
    const counts = deliveredCounts(emulator);
    assert.equal([...counts.values()].filter((n) => n > 1).length, 1, "only the faulted delivery is duplicated");
  });

  it("creates a 1:1 chat once and reuses it for later jobs", async () => {
    const tenant = seed("t-personal", 5);
    const recipients = tenant.users.map((u) => userRecipient(serviceUrl, u));
    const first = await run(recipients);
    assert.equal((await store.jobs.counts(first.id)).sent, 5);
    assert.equal(connector.calls.filter((c) => c.op === "create").length, 5);
    for (const user of tenant.users) {
      const member = await store.members.get(tenant.tenantId, user.id);
      assert.equal(member?.personalConversationId, user.personalConversationId);
      const d = await store.jobs.getDelivery(first.id, `user:${tenant.tenantId}:${user.id}`);
      assert.equal(d?.recipient.conversationId, user.personalConversationId);
    }

    const second = await run(recipients);
    assert.equal((await store.jobs.counts(second.id)).sent, 5);
    assert.equal(connector.calls.filter((c) => c.op === "create").length, 5, "no conversation created again");
    for (const user of tenant.users) assert.equal(emulator.delivered(user.personalConversationId).length, 2);
  });

  it("skips people who opted out (of everything or of the job's category) without calling Teams", async () => {
    const tenant = seed("t-optout", 4);
    const deliveries = await installAll(store, serviceUrl, tenant);
    await store.preferences.optOut(tenant.tenantId, tenant.users[0].aadObjectId, "*");
    await store.preferences.optOut(tenant.tenantId, tenant.users[1].id, "digest");
    await store.preferences.optOut(tenant.tenantId, tenant.users[2].aadObjectId, "alerts");
    const job = await run(deliveries, {}, { category: "digest" });

    for (const i of [0, 1]) {
      const d = await delivery(job, deliveries[i]);
      assert.equal(d.status, "skipped");
      assert.equal(d.reason, "opted out");
      assert.equal(connector.callsTo(tenant.users[i].personalConversationId).length, 0);
    }
    for (const i of [2, 3]) assert.equal((await delivery(job, deliveries[i])).status, "sent");
    assert.equal(job.status, "completed");
  });

  it("posts a new thread in a channel and records the thread's conversation id", async () => {
    const tenant = emulator.seed({ tenantId: "t-channel", users: 5, teams: [{ name: "Ops", memberCount: 5, channels: 2 }] });
    const team = tenant.teams[0];
    const inputs: DeliveryInput[] = team.channels.map((ch) => ({
      recipientKey: `thread:${ch.id}`, recipient: { tenantId: tenant.tenantId, serviceUrl, newThreadInChannel: ch.id, teamId: team.id },
    }));
    const job = await run(inputs);
    for (const input of inputs) {
      const d = await delivery(job, input);
      assert.equal(d.status, "sent");
      assert.ok(d.recipient.conversationId?.startsWith(`${input.recipient.newThreadInChannel};messageid=`));
      const posted = emulator.delivered(d.recipient.conversationId!);
      assert.equal(posted.length, 1);
      assert.equal(posted[0].activityId, d.activityId);
    }
  });

  it("does not let a throttled tenant hold up another tenant (no head-of-line blocking)", async () => {
    const slow = seed("t-slow", 10);
    const fast = seed("t-fast", 10);
    emulator.addFault({ match: { route: "send", tenantId: "t-slow" }, status: 429, retryAfterSeconds: 0.5, times: 10 });
    // The slow tenant comes first in the job.
    const inputs = [...(await installAll(store, serviceUrl, slow)), ...(await installAll(store, serviceUrl, fast))];
    const job = await run(inputs);

    assert.equal((await store.jobs.counts(job.id)).sent, 20);
    const order = emulator.delivered().map((a) => a.tenantId);
    assert.deepEqual(order.slice(0, 10), Array(10).fill("t-fast"), "every fast-tenant message went out before the throttled tenant's retries");
    assert.equal(job.throttleRetries, 10);
  });

  it("runs several jobs at once within a small in-memory budget, claiming from the store in chunks", async () => {
    const tenant = seed("t-chunks", 30);
    const deliveries = await installAll(store, serviceUrl, tenant);
    engine = newEngine(store, connector, { timeScale: TIME_SCALE, claimChunk: 4, jobBufferTarget: 8, maxBuffered: 8 });
    await engine.start();
    const jobs = [await createJob(store, deliveries), await createJob(store, deliveries.slice(0, 20)), await createJob(store, deliveries.slice(10))];
    for (const job of jobs) engine.wake(job.id);
    await engine.idle();
    for (const job of jobs) {
      assert.equal((await store.jobs.getJob(job.id))!.status, "completed");
      const counts = await store.jobs.counts(job.id);
      assert.equal(counts.sent, counts.total);
    }
    const perConversation = deliveredCounts(emulator);
    tenant.users.forEach((u, i) => assert.equal(perConversation.get(u.personalConversationId), 1 + (i < 20 ? 1 : 0) + (i >= 10 ? 1 : 0)));
  });

  it("fails a delivery whose card cannot be rendered, without calling Teams", async () => {
    const tenant = seed("t-render", 2);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const job = await run(deliveries, { render: (j, r) => { if (r.userId === tenant.users[0].id) throw new Error("template broke"); return { type: "message", text: j.content.text }; } });
    const d = await delivery(job, deliveries[0]);
    assert.equal(d.status, "failed");
    assert.match(d.reason!, /could not render the card: template broke/);
    assert.equal(connector.callsTo(tenant.users[0].personalConversationId).length, 0);
    assert.equal((await delivery(job, deliveries[1])).status, "sent");
  });

  it("reads rosters under the same pacing, retrying a 503 and a 429", async () => {
    const tenant = emulator.seed({ tenantId: "t-roster", users: 70, teams: [{ name: "All", memberCount: 70 }] });
    const team = tenant.teams[0];
    emulator.addFault({ match: { route: "members" }, status: 503, times: 1 });
    emulator.addFault({ match: { route: "members" }, status: 429, retryAfterSeconds: 0.05, times: 1 });
    engine = newEngine(store, connector, { timeScale: TIME_SCALE });
    await engine.start();
    const first = await engine.getPagedMembers(serviceUrl, tenant.tenantId, team.id, 50);
    const second = await engine.getPagedMembers(serviceUrl, tenant.tenantId, team.id, 50, first.continuationToken);
    assert.equal(first.members.length + second.members.length, 70);
    assert.equal(connector.calls.filter((c) => c.op === "members").length, 4);
  });

  it("logs progress while a job runs", async () => {
    const tenant = seed("t-progress", 30);
    const deliveries = await installAll(store, serviceUrl, tenant);
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const job = await run(deliveries, { logger: pino({ level: "info" }, sink), progressIntervalMs: 50, perTenantPerSecond: 5 });

    const progress = lines.filter((l) => l.msg === "delivery progress");
    assert.ok(progress.length >= 2, `got ${progress.length} progress lines`);
    for (const key of ["jobId", "sent", "pending", "failed", "gone", "skipped", "msgPerSec", "throttled"]) assert.ok(key in progress[0], key);
    const finished = lines.find((l) => l.msg === "delivery job finished");
    assert.equal(finished?.jobId, job.id);
    assert.equal(finished?.sent, 30);
  });

  it("tells observers about each request, each settled delivery, each retry and the finished job", async () => {
    const tenant = seed("t-observed", 4);
    const deliveries = await installAll(store, serviceUrl, tenant);
    emulator.addFault({ match: { route: "send", conversationId: tenant.users[0].personalConversationId }, status: 403, code: "BotNotInConversationRoster" });
    emulator.addFault({ match: { route: "send", conversationId: tenant.users[1].personalConversationId }, status: 503, times: 1 });
    await store.preferences.optOut(tenant.tenantId, tenant.users[2].aadObjectId, "*");
    const requests: RequestEvent[] = [];
    const settled: Delivery[] = [];
    const retries: string[] = [];
    const finished: string[] = [];
    const job = await run(deliveries, {
      observers: [
        { onRequest: (e) => requests.push(e), onSettled: (e) => settled.push(e.delivery), onRetry: (e) => retries.push(`${e.recipientKey}:${e.reason}`) },
        { onJobFinished: (e) => finished.push(`${e.job.id}:${e.status}:${e.counts.sent}`), onSettled: () => { throw new Error("a broken observer"); } },
      ],
    });

    assert.equal(job.status, "completed");
    const byKey = new Map(settled.map((d) => [d.recipientKey, d.status]));
    assert.deepEqual(deliveries.map((d) => byKey.get(d.recipientKey)), ["gone", "sent", "skipped", "sent"]);
    assert.deepEqual(retries, [`${deliveries[1].recipientKey}:transient`]);
    const outcomes = requests.map((r) => `${r.recipientKey}:${r.operation}:${r.outcome}:${r.status ?? ""}:${r.attempt}`).sort();
    assert.deepEqual(outcomes, [
      `${deliveries[0].recipientKey}:send:gone:403:1`,
      `${deliveries[1].recipientKey}:send:ok::2`,
      `${deliveries[1].recipientKey}:send:transient:503:1`,
      `${deliveries[3].recipientKey}:send:ok::1`,
    ].sort());
    assert.ok(requests.every((r) => r.jobId === job.id && r.tenantId === "t-observed" && r.durationMs >= 0));
    assert.deepEqual(finished, [`${job.id}:completed:2`]);
  });
});
