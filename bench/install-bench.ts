/**
 * Install capture rate: Teams install activities (installationUpdate + conversationUpdate, as Teams sends
 * them) posted by the emulator's driver to a real Herald process's /api/messages. Herald runs as its own
 * process (as in production) on SQLite on disk; the driver and the connector emulator (latency 0, limits off:
 * this measures Herald) run in the benchmark's process. Every install is recorded and welcomed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger";
import { ActivityDriver } from "../src/emulator/activity-driver";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import { SqliteStore } from "../src/store/sqlite";

const ROOT = path.resolve(__dirname, "..");

export async function benchInstallCapture(n = 5000, concurrency = 64): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-install-bench-"));
  const dbPath = path.join(dir, "herald.db");
  const emulator = new ConnectorEmulator({ limits: false, recordActivities: false });
  const serviceUrl = await emulator.start();
  const tenant = emulator.seed({ tenantId: "bench-installs", users: n });
  const child = spawn(process.execPath, [...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []), "--import", "tsx", path.join(ROOT, "src", "index.ts")], {
    cwd: ROOT, env: { ...process.env, PORT: "0", HERALD_STORE: `sqlite:${dbPath}`, LOG_LEVEL: "info", BOT_ID: "", HERALD_API_KEY: "" }, stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        const line = out.split("\n").find((l) => l.includes("Herald listening"));
        if (line) resolve(JSON.parse(line).url);
      });
      child.once("exit", (code) => reject(new Error(`Herald exited ${code}: ${out}`)));
    });
    const driver = new ActivityDriver({ botEndpoint: `${url}/api/messages`, serviceUrl });
    // Teams sends two activities per install; both go through the bot.
    const activities = tenant.users.flatMap((u) => [driver.installation(u, u, "add"), driver.botMembership(u, u, "membersAdded")]);
    await driver.sendMany(activities.slice(0, 200), concurrency); // warm-up: JIT, connections, SQLite pages
    const measured = activities.slice(200);
    const started = process.hrtime.bigint();
    const statuses = await driver.sendMany(measured, concurrency);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    driver.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    const store = new SqliteStore(dbPath, silentLogger());
    const stored = await store.targets.count({ tenantId: "bench-installs" });
    await store.close();
    return {
      installs: measured.length / 2,
      seconds: round(seconds),
      installsPerSecond: round(measured.length / 2 / seconds),
      activitiesPerSecond: round(measured.length / seconds),
      failedRequests: statuses.filter((s) => s !== 200).length,
      targetsStored: stored,
      welcomesSent: emulator.stats().delivered,
    };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

if (require.main === module) {
  benchInstallCapture(Number(process.argv[2]) || 5000).then((r) => console.log(JSON.stringify(r, null, 2)));
}
