/**
 * Retention (issue 12): a daily broadcast for `days` simulated days with a fake clock, retention at 30 days. After
 * day 30 the store should stop growing (SQLite: the file, whose freed pages are reused; Azure Table: row counts)
 * and sending should not slow down. The emulator runs in this process with limits off and no latency, so the
 * send rate measures Herald and its store.
 *
 *   npx tsx bench/retention-bench.ts [sqlite|azure] [--people=10000] [--days=36]
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import { groupByPartition } from "../src/cluster/partitions";
import { DeliveryEngine } from "../src/delivery/engine";
import { Retention } from "../src/delivery/retention";
import { BotFrameworkConnector, createCloudAdapter } from "../src/delivery/teams-connector";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import { silentLogger } from "../src/logger";
import { openAzureTableStore, tableNames } from "../src/store/azure-table";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey, type DeliveryInput, type HeraldStore } from "../src/store/types";
import { startAzurite, type AzuriteTable } from "../test/support/azurite";

const DAY = 86_400_000;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export async function benchRetention(kind: "sqlite" | "azure", people = 10_000, days = 36) {
  const emulator = new ConnectorEmulator({ limits: false, latencyMs: 0, recordActivities: false });
  const serviceUrl = await emulator.start();
  const tenants = Array.from({ length: 10 }, (_, t) => emulator.seed({ tenantId: `retention-${t}`, users: Math.ceil(people / 10) }));
  const inputs: DeliveryInput[] = tenants.flatMap((t) => t.users).slice(0, people).map((u) => {
    const key = targetKey(u.tenantId, u.personalConversationId);
    return { recipientKey: key, recipient: { tenantId: u.tenantId, serviceUrl, conversationId: u.personalConversationId, userId: u.id, targetKey: key } };
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-retention-"));
  let azurite: AzuriteTable | undefined;
  let store: HeraldStore;
  const prefix = `ret${randomUUID().replace(/-/g, "").slice(0, 8)}`;
  if (kind === "azure") {
    azurite = await startAzurite();
    store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
  } else {
    store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
  }
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const engine = new DeliveryEngine({
    store, connector: new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" }), logger: silentLogger(), progressIntervalMs: 0,
    render: () => ({ type: "message", text: "Daily digest" }), clock, concurrency: 128,
  });
  const retention = new Retention({ store, ownership: { owns: () => true }, log: silentLogger(), days: 30, clock, batch: 1000, pauseMs: 0 });
  await engine.start();
  const rows: Array<Record<string, number>> = [];
  try {
    for (let day = 1; day <= days; day++) {
      offset = day * DAY;
      const grouped = groupByPartition(inputs, 32);
      const { job } = await store.jobs.createJob({
        id: randomUUID(), status: "queued", content: { title: `Digest day ${day}`, text: "…" }, audience: { kind: "all" }, triggeredBy: "bench",
        createdAt: new Date(clock.now()).toISOString(), slices: grouped.slices,
      }, grouped.deliveries);
      const started = process.hrtime.bigint();
      engine.wake(job.id);
      await engine.idle();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const purged = await retention.runOnce();
      const row: Record<string, number> = { day, msgPerSec: round(people / seconds), removedNotifications: purged.notifications };
      if (kind === "sqlite") {
        (store as SqliteStore).db.pragma("wal_checkpoint(TRUNCATE)");
        row.fileMb = round(fileSize(path.join(dir, "herald.db")) / 1048576, 1);
      } else if (day % 6 === 0 || day === days || day === 30 || day === 31) {
        const names = tableNames(prefix);
        row.deliveryRows = await countRows(azurite!, names.deliveries);
        row.jobRows = await countRows(azurite!, names.jobs);
      }
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
  } finally {
    await engine.stop();
    await store.close();
    await azurite?.stop();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { backend: kind, people, days, retentionDays: 30, rows };
}

function fileSize(file: string): number {
  let size = statSync(file).size;
  try { size += statSync(`${file}-wal`).size; } catch { /* no WAL */ }
  return size;
}

async function countRows(azurite: AzuriteTable, table: string): Promise<number> {
  const client = TableClient.fromConnectionString(azurite.connectionString, table, { allowInsecureConnection: true });
  let n = 0;
  for await (const page of client.listEntities({ queryOptions: { select: ["RowKey"] } }).byPage({ maxPageSize: 1000 })) n += page.length;
  return n;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const kind = argv.includes("azure") ? "azure" : "sqlite";
  const num = (name: string, fallback: number) => Number(argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
  benchRetention(kind, num("people", 10_000), num("days", 36)).then((r) => {
    console.log(JSON.stringify(r, null, 2));
    process.exit(0);
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
}
