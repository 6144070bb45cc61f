import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import net, { type AddressInfo } from "node:net";
import path from "node:path";
import { formatDuration, ProgressRate } from "../src/cli/progress-rate";
import { eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";

const ROOT = path.resolve(__dirname, "..");
const API_KEY = "cli-watch-key-0123456789";

/**
 * The built CLI (`npm test` builds first) as a separate process: spawnSync would freeze the Herald this test runs
 * in-process.
 */
function herald(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, "dist", "src", "cli", "herald.js"), ...args], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("command line: watch and notifications, through the HTTP API", function () {
  this.timeout(90_000);
  let fx: HeraldFixture;
  let env: Record<string, string>;

  before(async () => {
    // 150 ms per Teams request, 2 at a time: a broadcast to 6 people takes about half a second.
    fx = await startHerald({ env: { HERALD_API_KEY: API_KEY }, emulator: { latencyMs: 150 }, overrides: { engine: { concurrency: 2 } } });
    for (const user of fx.tenant.users) await fx.driver.installPersonal(user);
    fx.emulator.reset();
    env = { HERALD_URL: fx.url, HERALD_API_KEY: API_KEY };
  });
  after(async () => {
    await fx.stop();
  });

  it("watch follows a running broadcast to the end: a bar with the counts, then the outcome; exit 0", async () => {
    const created = await fx.api("POST", "/api/notifications", { title: "Watched", text: "live" }, { authorization: `Bearer ${API_KEY}` });
    const result = await herald(["watch", created.body.id, "--interval", "100"], env);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Watched \\(${created.body.id}\\), 6 recipient\\(s\\), triggered by the Herald API`, "m"));
    assert.match(result.stdout, /\d+% \| sent \d+ · failed 0 · gone 0 · pending \d+ \| [\d.]+\/s \| ETA \S+/, "the bar's line");
    assert.match(result.stdout, /^completed: 6 sent, 0 failed, 0 gone, 0 skipped, 0 cancelled of 6 in \d+s, [\d.]+\/s$/m);
  });

  it("watch exits 1 for a notification that failed, saying so", async () => {
    fx.emulator.addFault({ match: { route: "send" }, status: 400, code: "BadArgument", times: 6 });
    const created = await fx.api("POST", "/api/notifications", { title: "Broken", text: "card" }, { authorization: `Bearer ${API_KEY}` });
    const result = await herald(["watch", created.body.id, "--interval", "100"], env);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stdout, /^failed: 0 sent, 6 failed/m);
  });

  it("notifications lists the most recent first, as text and as JSON", async () => {
    const text = await herald(["notifications", "--limit", "5"], env);
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0], /failed\s+0\/6 sent\s+6 failed, 0 gone, 0 pending  \S+  Broken$/);
    assert.match(lines[1], /completed\s+6\/6 sent\s+0 failed, 0 gone, 0 pending  \S+  Watched$/);
    const json = await herald(["notifications", "--json"], env);
    const items = JSON.parse(json.stdout);
    assert.deepEqual(items.map((n: { title: string }) => n.title), ["Broken", "Watched"]);
  });

  it("says what is wrong: an unknown id, a wrong key, no Herald at HERALD_URL", async () => {
    const unknown = await herald(["watch", "no-such-id"], env);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /herald: notification no-such-id was not found/);
    const wrongKey = await herald(["notifications"], { ...env, HERALD_API_KEY: "not-the-key-at-all-0000" });
    assert.equal(wrongKey.status, 1);
    assert.match(wrongKey.stderr, /bearer token.*\(set HERALD_API_KEY to the API key of that Herald\)/);
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const nobody = await herald(["notifications"], { ...env, HERALD_URL: `http://127.0.0.1:${port}` });
    assert.equal(nobody.status, 1);
    assert.match(nobody.stderr, new RegExp(`cannot reach Herald at http://127\\.0\\.0\\.1:${port} \\(HERALD_URL\\): ECONNREFUSED`));
  });
});

describe("watch's rate and time left", () => {
  it("measures deliveries per second over the recent window and the time the pending ones take at that rate", () => {
    const rate = new ProgressRate(10_000);
    assert.equal(rate.perSecond(), 0);
    assert.equal(rate.secondsLeft(100), undefined, "unknown before there is a rate");
    rate.add(0, 0);
    rate.add(2_000, 100);
    assert.equal(rate.perSecond(), 50);
    assert.equal(rate.secondsLeft(500), 10);
    // A pause (e.g. 429s) shows once the fast samples leave the window.
    rate.add(12_000, 100);
    rate.add(22_000, 100);
    assert.equal(rate.perSecond(), 0);
    assert.equal(rate.secondsLeft(0), 0);
  });

  it("formats durations for people", () => {
    assert.equal(formatDuration(42.4), "42s");
    assert.equal(formatDuration(75), "1m 15s");
    assert.equal(formatDuration(3725), "1h 2m");
    assert.equal(formatDuration(undefined), "?");
  });
});
