import { strict as assert } from "node:assert";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import type { SeededUser } from "../src/emulator/types";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey } from "../src/store/types";
import { eventually } from "./support/herald-fixture";
import { spawnHerald, stopProcess } from "./support/herald-process";


function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}

describe("crash safety: Herald killed with SIGKILL mid-broadcast, then restarted", function () {
  this.timeout(120_000);
  let dir: string;
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-crash-"));
    // Teams' documented limits and some latency, so the broadcast takes long enough to be interrupted.
    emulator = new ConnectorEmulator({ latencyMs: 15 });
    serviceUrl = await emulator.start();
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every active target gets the notification; duplicates stay within the in-flight window; gone targets get nothing", async () => {
    const tenants = [0, 1, 2, 3].map((i) => emulator.seed({ tenantId: `tenant-crash-${i}`, users: 100 }));
    const dbPath = path.join(dir, "herald.db");

    // The registry as installs left it: 400 personal chats, 20 of them pruned as gone earlier.
    const store = new SqliteStore(dbPath, silentLogger());
    const gone: SeededUser[] = [];
    for (const tenant of tenants) {
      for (const [i, user] of tenant.users.entries()) {
        const key = targetKey(tenant.tenantId, user.personalConversationId);
        await store.targets.upsert({
          key, kind: "personal", tenantId: tenant.tenantId, conversationId: user.personalConversationId, serviceUrl,
          userId: user.id, aadObjectId: user.aadObjectId, name: user.name,
          reference: { channelId: "msteams", serviceUrl, conversation: { id: user.personalConversationId, tenantId: tenant.tenantId, conversationType: "personal" } as never, user: { id: user.id, name: user.name } },
        });
        if (i % 20 === 0) {
          await store.targets.markGone(key, "ConversationBlockedByUser");
          gone.push(user);
        }
      }
    }
    await store.close();
    const active = tenants.flatMap((t) => t.users).filter((u) => !gone.includes(u));

    const first = await spawnHerald({ HERALD_STORE: `sqlite:${dbPath}` });
    children.push(first.child);
    const res = await fetch(`${first.url}/api/notifications`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "Crash drill", text: "exactly once, please" }),
    });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };

    await eventually(() => emulator.delivered().length >= 120, "a third of the broadcast", 60_000);
    first.child.kill("SIGKILL");
    await killed(first.child);
    const deliveredAtKill = emulator.delivered().length;

    // What the store says was in flight when the process died: the only deliveries that may repeat.
    const inspect = new SqliteStore(dbPath, silentLogger());
    const counts = await inspect.jobs.counts(id);
    await inspect.close();
    assert.ok(counts.sent + counts.sending < active.length, "the kill happened mid-broadcast");
    const inFlightWindow = counts.sending;

    const second = await spawnHerald({ HERALD_STORE: `sqlite:${dbPath}` });
    children.push(second.child);
    const report = (await eventually(async () => {
      const r = (await (await fetch(`${second.url}/api/notifications/${id}`)).json()) as { status: string; counts: Record<string, number> };
      return r.status === "completed" ? r : undefined;
    }, "the resumed broadcast to complete", 90_000))!;
    second.child.kill("SIGTERM");
    await killed(second.child);

    assert.equal(report.counts.total, active.length);
    assert.equal(report.counts.sent, active.length);
    assert.equal(report.counts.pending, 0);

    let duplicates = 0;
    for (const user of active) {
      const n = emulator.delivered(user.personalConversationId).length;
      assert.ok(n >= 1, `${user.id} received the notification`);
      duplicates += n - 1;
    }
    for (const user of gone) assert.equal(emulator.delivered(user.personalConversationId).length, 0, `no send to gone ${user.id}`);
    assert.ok(duplicates <= inFlightWindow, `${duplicates} duplicates, in-flight window was ${inFlightWindow}`);
    assert.ok(deliveredAtKill < emulator.delivered().length, "the second process did the rest");
  });
});

describe("graceful stop: SIGTERM mid-broadcast", function () {
  this.timeout(120_000);
  let dir: string;
  let emulator: ConnectorEmulator;
  let serviceUrl: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-sigterm-"));
    // Slow answers, so many requests are in flight when the signal comes.
    emulator = new ConnectorEmulator({ latencyMs: 300, limits: false });
    serviceUrl = await emulator.start();
  });
  after(async () => {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finishes or records what is in flight, leaves nothing 'sending', exits 0 within 10 s, and the next start completes it", async () => {
    const tenant = emulator.seed({ tenantId: "tenant-sigterm", users: 400 });
    const dbPath = path.join(dir, "herald.db");
    const store = new SqliteStore(dbPath, silentLogger());
    for (const user of tenant.users) {
      await store.targets.upsert({
        key: targetKey(tenant.tenantId, user.personalConversationId), kind: "personal", tenantId: tenant.tenantId, conversationId: user.personalConversationId,
        serviceUrl, userId: user.id, reference: { channelId: "msteams", serviceUrl, conversation: { id: user.personalConversationId, tenantId: tenant.tenantId, conversationType: "personal" } as never },
      });
    }
    await store.close();

    const first = await spawnHerald({ HERALD_STORE: `sqlite:${dbPath}`, HERALD_TENANT_RATE: "100" });
    const { body } = await first.api<{ id: string }>("POST", "/api/notifications", { title: "Graceful", text: "stop" });
    await eventually(() => emulator.delivered().length >= 60, "part of the broadcast", 60_000);
    const signalled = Date.now();
    first.child.kill("SIGTERM");
    const exit = await first.exited;
    const tookMs = Date.now() - signalled;
    assert.equal(exit.code, 0);
    assert.ok(tookMs < 10_000, `exited ${tookMs} ms after SIGTERM`);

    const inspect = new SqliteStore(dbPath, silentLogger());
    const counts = await inspect.jobs.counts(body.id);
    await inspect.close();
    assert.equal(counts.sending, 0, "every request in flight was finished and recorded");
    assert.ok(counts.pending > 0, "the stop came mid-broadcast");
    assert.equal(counts.sent, emulator.delivered().length, "what the store says was sent is exactly what Teams got");

    const second = await spawnHerald({ HERALD_STORE: `sqlite:${dbPath}`, HERALD_TENANT_RATE: "100" });
    await eventually(async () => (await second.api<{ status: string }>("GET", `/api/notifications/${body.id}`)).body.status === "completed", "completion", 60_000);
    await stopProcess(second);
    const perConversation = new Map<string, number>();
    for (const d of emulator.delivered()) perConversation.set(d.conversationId, (perConversation.get(d.conversationId) ?? 0) + 1);
    assert.equal(perConversation.size, 400, "nobody lost");
    assert.ok([...perConversation.values()].every((n) => n === 1), "nobody got it twice");
  });
});
