/**
 * Install capture rate: Teams install activities (installationUpdate + conversationUpdate, as Teams sends
 * them) posted to a real Herald's /api/messages by the emulator's driver; SQLite on disk; each install is
 * recorded and welcomed through the connector emulator (latency 0, limits off: this measures Herald).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHerald } from "../src/app";
import { loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";
import { ActivityDriver } from "../src/emulator/activity-driver";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import { SqliteStore } from "../src/store/sqlite";

export async function benchInstallCapture(n = 5000, concurrency = 64): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-install-bench-"));
  const emulator = new ConnectorEmulator({ limits: false, recordActivities: false });
  const serviceUrl = await emulator.start();
  const tenant = emulator.seed({ tenantId: "bench-installs", users: n });
  const store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
  const herald = await createHerald(loadConfig({ PORT: "0", HERALD_STORE: "memory" }), silentLogger(), { store });
  const url = await herald.start();
  const driver = new ActivityDriver({ botEndpoint: `${url}/api/messages`, serviceUrl });
  try {
    // Teams sends two activities per install; both go through the bot.
    const activities = tenant.users.flatMap((u) => [driver.installation(u, u, "add"), driver.botMembership(u, u, "membersAdded")]);
    const started = process.hrtime.bigint();
    const statuses = await driver.sendMany(activities, concurrency);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const failed = statuses.filter((s) => s !== 200).length;
    const stored = await store.targets.count({ tenantId: "bench-installs" });
    return {
      installs: n,
      activities: activities.length,
      seconds: round(seconds),
      installsPerSecond: round(n / seconds),
      activitiesPerSecond: round(activities.length / seconds),
      failedRequests: failed,
      targetsStored: stored,
      welcomesSent: emulator.stats().delivered,
      rssMb: round(process.memoryUsage().rss / 1048576),
    };
  } finally {
    driver.close();
    await herald.stop();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

if (require.main === module) {
  benchInstallCapture(Number(process.argv[2]) || 5000).then((r) => console.log(JSON.stringify(r, null, 2)));
}
