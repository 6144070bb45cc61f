/**
 * Update-in-place benchmark (issue 11): a broadcast to 2,000 personal chats in one tenant is sent, then its content
 * is changed (what PATCH /api/notifications/{id} does) and every copy is updated in place through the engine:
 * Teams' limits on (updates count against the thread and the tenant's 50/s like sends), 40 ms latency, SQLite on a
 * temp file, the production card renderer. Measured: update msg/s over the whole update against the 50/s
 * ceiling, copies missed (never updated) and updated more than once, 429s.
 *
 *   npx tsx bench/update-bench.ts [--users=2000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { renderCopy } from "../src/cards/notification-card";
import { DeliveryEngine } from "../src/delivery/engine";
import { NotificationChanges } from "../src/delivery/notification-changes";
import { BotFrameworkConnector, createCloudAdapter } from "../src/delivery/teams-connector";
import { ConnectorEmulator } from "../src/emulator";
import { silentLogger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey, type DeliveryInput } from "../src/store/types";

const CEILING = 50;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function benchUpdate(users = 2000) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-update-bench-"));
  const emulator = new ConnectorEmulator({ latencyMs: 40, recordActivities: false });
  const serviceUrl = await emulator.start();
  const tenant = emulator.seed({ tenantId: "bench-update", users });
  const store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
  const connector = new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" });
  const engine = new DeliveryEngine({ store, connector, render: renderCopy, logger: silentLogger(), progressIntervalMs: 0 });
  const changes = new NotificationChanges({ store, engine, partitionCount: engine.ownership.partitionCount });
  try {
    await engine.start();
    const inputs: DeliveryInput[] = tenant.users.map((u) => {
      const key = targetKey(u.tenantId, u.personalConversationId);
      return { recipientKey: key, recipient: { tenantId: u.tenantId, serviceUrl, conversationId: u.personalConversationId, userId: u.id, targetKey: key, name: u.name } };
    });
    const { job } = await store.jobs.createJob({
      id: "bench-update", status: "queued", content: { title: "Incident 4711: checkout degraded", text: "We are investigating.", acknowledge: true },
      audience: { kind: "all" }, triggeredBy: "bench", createdAt: new Date().toISOString(),
    }, inputs);
    const sendStarted = Date.now();
    engine.wake(job.id);
    await waitFor(async () => (await store.jobs.getJob(job.id))?.status === "completed");
    const sendSeconds = (Date.now() - sendStarted) / 1000;
    const before = emulator.stats();

    const started = process.hrtime.bigint();
    await changes.update(job.id, { title: "Incident 4711: resolved", text: "Checkout is back to normal." });
    await waitFor(async () => (await store.work.list()).every((w) => w.kind !== "update"));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    const copies = emulator.delivered();
    const updates = copies.map((c) => emulator.updatesOf(c.activityId));
    const missed = updates.filter((u) => u.length === 0).length;
    const doubleUpdated = updates.filter((u) => u.length > 1).length;
    const times = updates.flatMap((u) => u.map((x) => x.at)).sort((a, b) => a - b);
    const steady = times.length > 1 ? (times.length - 1) / ((times[times.length - 1]! - times[0]!) / 1000) : 0;
    const after = emulator.stats();
    const report = await store.jobs.copyCounts(job.id);
    const msgPerSec = (after.updated - before.updated) / seconds;
    return {
      copies: copies.length,
      sendSeconds: round(sendSeconds),
      updated: after.updated - before.updated,
      storeSaysAtVersion2: report.versions["2"] ?? 0,
      seconds: round(seconds),
      msgPerSec: round(msgPerSec),
      steadyMsgPerSec: round(steady),
      ceilingPerSec: CEILING,
      fractionOfCeiling: round(msgPerSec / CEILING, 3),
      missed,
      doubleUpdated,
      http429: after.throttled - before.throttled,
      updateRequests: (after.byRoute.update ?? 0) - (before.byRoute.update ?? 0),
    };
  } finally {
    await engine.stop();
    await store.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
}

if (require.main === module) {
  const users = Number(process.argv.find((a) => a.startsWith("--users="))?.slice(8)) || 2000;
  benchUpdate(users).then((result) => {
    console.log(JSON.stringify({ bench: "update", node: process.version, cpus: os.cpus().length, result }, null, 2));
    process.exit(0);
  }, (error) => {
    console.error(error);
    process.exit(1);
  });
}
