import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TeamsConnector } from "../../src/delivery/teams-connector";
import type { ConnectorEmulator } from "../../src/emulator";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";
import { botConnector, createJob, deliveredCounts, installAll, newEngine, startEmulator } from "./support";

const TIME_SCALE = 0.1;
const never = new Promise<never>(() => undefined);

/**
 * A process that freezes mid-job, as if SIGKILLed: after `okSends` sends it answers nothing more. Of the
 * requests it swallows, every other one still reaches Teams (the answer was lost) and the rest never leave.
 */
class FreezingConnector implements TeamsConnector {
  sent = 0;
  readonly reachedTeams: string[] = [];
  readonly neverLeft: string[] = [];
  constructor(private readonly inner: TeamsConnector, private readonly okSends: number) {}

  async sendActivity(...args: Parameters<TeamsConnector["sendActivity"]>) {
    if (this.sent < this.okSends) {
      this.sent++;
      return this.inner.sendActivity(...args);
    }
    const conversationId = args[0].conversationId;
    if ((this.reachedTeams.length + this.neverLeft.length) % 2 === 0) {
      this.reachedTeams.push(conversationId);
      await this.inner.sendActivity(...args);
    } else {
      this.neverLeft.push(conversationId);
    }
    return never;
  }
  createPersonalConversation(): Promise<string> { return never; }
  createChannelThread(): Promise<never> { return never; }
  getPagedMembers(): Promise<never> { return never; }
  updateActivity(): Promise<never> { return never; }
  deleteActivity(): Promise<never> { return never; }
  getMember(): Promise<never> { return never; }
}

describe("delivery/engine resume after a crash (SQLite file)", () => {
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  let dir: string;
  const stores: SqliteStore[] = [];

  beforeEach(async () => {
    ({ emulator, serviceUrl } = await startEmulator({ timeScale: TIME_SCALE, latencyMs: 2 }));
    dir = mkdtempSync(join(tmpdir(), "herald-delivery-"));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("re-sends what was in flight, sends what was pending, and never re-sends what was recorded sent", async () => {
    const file = join(dir, "herald.db");
    const tenant = emulator.seed({ tenantId: "t-resume", users: 60 });
    const before = new SqliteStore(file, silentLogger());
    stores.push(before);
    const deliveries = await installAll(before, serviceUrl, tenant);
    const job = await createJob(before, deliveries);

    const concurrency = 4;
    const freezing = new FreezingConnector(botConnector(), 15);
    const crashed = newEngine(before, freezing, { timeScale: TIME_SCALE, concurrency });
    await crashed.start();
    crashed.wake(job.id);
    while (freezing.reachedTeams.length + freezing.neverLeft.length < concurrency) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20)); // let the 15 good answers be recorded

    const atCrash = await before.jobs.counts(job.id);
    assert.deepEqual([atCrash.sent, atCrash.sending, atCrash.pending], [15, concurrency, 60 - 15 - concurrency]);
    await before.close(); // the frozen engine holds only never-settling promises from here on

    const after = new SqliteStore(file, silentLogger());
    stores.push(after);
    const resumed = newEngine(after, botConnector(), { timeScale: TIME_SCALE });
    await resumed.start();
    await resumed.idle();
    await resumed.stop();

    const done = (await after.jobs.getJob(job.id))!;
    assert.equal(done.status, "completed");
    const counts = await after.jobs.counts(job.id);
    assert.equal(counts.sent, 60);
    const perConversation = deliveredCounts(emulator);
    assert.equal(perConversation.size, 60, "every target got the message");
    const twice = [...perConversation].filter(([, n]) => n > 1).map(([id]) => id).sort();
    // Exactly the in-flight requests that had reached Teams are duplicated; none of the 15 recorded as sent.
    assert.deepEqual(twice, [...freezing.reachedTeams].sort());
    assert.ok(twice.length <= concurrency);
    assert.ok([...perConversation.values()].every((n) => n <= 2));
    for (const conversationId of [...freezing.reachedTeams, ...freezing.neverLeft]) {
      const input = deliveries.find((d) => d.recipient.conversationId === conversationId)!;
      const d = (await after.jobs.getDelivery(job.id, input.recipientKey))!;
      assert.equal(d.status, "sent");
      assert.equal(d.attempts, 2);
      assert.match(d.reason!, /sent again after a restart/);
    }
  });

  it("resumes a job that never started and one with retries scheduled for later", async () => {
    const file = join(dir, "herald.db");
    const tenant = emulator.seed({ tenantId: "t-resume2", users: 10 });
    const first = new SqliteStore(file, silentLogger());
    stores.push(first);
    const deliveries = await installAll(first, serviceUrl, tenant);
    const queued = await createJob(first, deliveries.slice(0, 5));
    const running = await createJob(first, deliveries.slice(5));
    await first.jobs.updateJob(running.id, { status: "running", startedAt: new Date().toISOString() });
    const notBefore = Date.now() + 200;
    await first.jobs.updateDelivery(running.id, deliveries[5].recipientKey, { status: "pending", attemptsIncrement: 1, notBefore, reason: "503; retrying" });
    await first.close();

    const second = new SqliteStore(file, silentLogger());
    stores.push(second);
    const engine = newEngine(second, botConnector(), { timeScale: TIME_SCALE });
    await engine.start();
    await engine.idle();
    await engine.stop();
    for (const job of [queued, running]) {
      assert.equal((await second.jobs.getJob(job.id))!.status, "completed");
      assert.equal((await second.jobs.counts(job.id)).sent, 5);
    }
    const retried = (await second.jobs.getDelivery(running.id, deliveries[5].recipientKey))!;
    assert.equal(retried.attempts, 2);
    assert.ok(emulator.delivered(deliveries[5].recipient.conversationId)[0].at >= notBefore, "the stored notBefore survived the restart");
    assert.equal(emulator.delivered().length, 10);
  });
});
