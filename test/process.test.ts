/**
 * The built Herald (dist/src/index.js, as `npm start` runs it; `npm test` builds first) as a process: what it
 * says when it cannot start, and what it sends to Azure Monitor when a connection string is set.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { eventually } from "./support/herald-fixture";

const ROOT = path.resolve(__dirname, "..");
const HERALD = path.join(ROOT, "dist", "src", "index.js");
const LOOPBACK_ONLY = path.join(__dirname, "support", "loopback-only.cjs");
const BASE_ENV = { BOT_ID: "", BOT_PASSWORD: "", HERALD_API_KEY: "", HERALD_STORE: "memory", PORT: "0", LOG_LEVEL: "info", APPLICATIONINSIGHTS_CONNECTION_STRING: "" };

function startFails(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [HERALD], { cwd: ROOT, env: { ...process.env, ...BASE_ENV, ...env }, encoding: "utf8", timeout: 30_000 });
  const lines = result.stderr.trim().split("\n");
  return { status: result.status, last: lines[lines.length - 1], stderr: result.stderr };
}

function assertOneLineFailure(result: ReturnType<typeof startFails>, cause: RegExp): void {
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.last, /^Herald cannot start: /);
  assert.match(result.last, cause);
  assert.equal(result.stderr.match(/Herald cannot start/g)?.length, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
}

describe("the Herald process", function () {
  this.timeout(60_000);

  describe("start-up failures end in one 'Herald cannot start: …' line and exit code 1", () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "herald-startup-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("a bad LOG_LEVEL", () => {
      assertOneLineFailure(startFails({ LOG_LEVEL: "verbose" }), /LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent \(got "verbose"\)/);
    });

    it("a bad variable (names it)", () => {
      assertOneLineFailure(startFails({ HERALD_TENANT_RATE: "fast" }), /HERALD_TENANT_RATE must be a whole number/);
    });

    it("a port in use", async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, resolve));
      const { port } = holder.address() as AddressInfo;
      try {
        assertOneLineFailure(startFails({ PORT: String(port) }), new RegExp(`port ${port} is already in use \\(PORT\\)`));
      } finally {
        holder.close();
      }
    });

    it("a schedules file that does not exist, and one with mistakes (every problem on the one line)", () => {
      const missing = path.join(dir, "missing.json");
      assertOneLineFailure(startFails({ HERALD_SCHEDULES_FILE: missing }), new RegExp(`HERALD_SCHEDULES_FILE ${missing} is invalid: cannot be read \\(ENOENT\\)`));
      const bad = path.join(dir, "schedules.json");
      writeFileSync(bad, JSON.stringify({ schedules: [{ id: "standup", cron: "0 25 * * *", timeZone: "Europe/Berlinn", notification: { title: "t", text: "x" } }] }));
      const result = startFails({ HERALD_SCHEDULES_FILE: bad });
      assertOneLineFailure(result, /schedule "standup": timeZone: .*Europe\/Berlinn/);
      assert.match(result.last, /; schedule "standup": cron: .*0 25|schedule "standup": cron: .*0 25.*; /);
    });

    it("a store it cannot open", () => {
      const notADatabase = path.join(dir, "herald.db");
      writeFileSync(notADatabase, "not SQLite".repeat(200));
      assertOneLineFailure(startFails({ HERALD_STORE: `sqlite:${notADatabase}` }), /store at .*herald\.db cannot be read/);
    });
  });

  describe("with APPLICATIONINSIGHTS_CONNECTION_STRING", () => {
    let ingestion: https.Server;
    let envelopes: Array<{ name: string; data: { baseType: string; baseData: Record<string, any> } }>;
    let herald: ChildProcess | undefined;
    let dir: string;
    let caFile: string;

    /** Herald with Azure Monitor pointed at `endpoint`; resolves with its base URL once it listens. */
    async function startWithAzureMonitor(endpoint: string): Promise<{ url: string; stop(): Promise<number | null> }> {
      const child = spawn(process.execPath, ["--require", LOOPBACK_ONLY, HERALD], {
        cwd: ROOT,
        env: {
          ...process.env, ...BASE_ENV,
          APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=${endpoint};LiveEndpoint=${endpoint}`,
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED: "true",
          OTEL_METRIC_EXPORT_INTERVAL: "1000", // the distro's reader exports every second instead of every minute
          // The distro samples 5 traces a second by default; the start-up's own requests could use that second's
          // budget and the API request under test would then be dropped.
          OTEL_TRACES_SAMPLER: "always_on",
          NODE_EXTRA_CA_CERTS: caFile, // the exporter insists on https; trust the test's own certificate
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      herald = child;
      let stdout = "";
      child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      // Read, or a full pipe blocks the child: on Linux its writes to a pipe are synchronous.
      child.stderr!.resume();
      const url = (await eventually(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stdout)?.[1], "Herald listening", 30_000))!;
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      return { url, stop: () => (child.kill("SIGTERM"), exited) };
    }

    before(async () => {
      envelopes = [];
      dir = mkdtempSync(path.join(os.tmpdir(), "herald-ingestion-"));
      caFile = path.join(dir, "cert.pem");
      const keyFile = path.join(dir, "key.pem");
      const made = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", caFile], { encoding: "utf8" });
      assert.equal(made.status, 0, `openssl could not make a test certificate: ${made.stderr ?? made.error}`);
      // Application Insights' ingestion endpoint, played on loopback: POST /v2.1/track with a JSON array.
      ingestion = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(caFile) }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          let body = Buffer.concat(chunks);
          if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
          if (req.url?.startsWith("/v2.1/track")) {
            const items = JSON.parse(body.toString("utf8"));
            envelopes.push(...items);
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ itemsReceived: items.length, itemsAccepted: items.length, errors: [] }));
          } else {
            res.writeHead(404).end();
          }
        });
      });
      // Longer than any pause between exports: a keep-alive socket closed by the server just as the exporter
      // reuses it fails that batch, which the exporter then keeps on disk for a retry a minute later.
      ingestion.keepAliveTimeout = 120_000;
      await new Promise<void>((resolve) => ingestion.listen(0, "127.0.0.1", resolve));
    });
    afterEach(() => {
      if (herald?.exitCode === null) herald.kill("SIGKILL");
    });
    after(() => {
      ingestion.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("exports API requests, Herald's spans and its heartbeat metric to Azure Monitor, then stops cleanly on SIGTERM", async () => {
      const { url, stop } = await startWithAzureMonitor(`https://127.0.0.1:${(ingestion.address() as AddressInfo).port}/`);
      assert.equal((await fetch(`${url}/api/notifications`)).status, 200);
      assert.equal((await fetch(`${url}/api/metrics`)).status, 200);
      // Spans leave in batches every few seconds, metrics every second (OTEL_METRIC_EXPORT_INTERVAL above).
      const exported = (type: string, match: (e: (typeof envelopes)[number]) => boolean) => envelopes.some((e) => e.data.baseType === type && match(e));
      await eventually(() => exported("RequestData", (e) => String(e.data.baseData.url).includes("/api/notifications")), "the API request in Application Insights", 30_000);
      await eventually(() => exported("MetricData", (e) => e.data.baseData.metrics.some((m: { name: string }) => m.name === "herald.up")), "the heartbeat", 30_000);
      assert.equal(await stop(), 0);

      const requests = envelopes.filter((e) => e.data.baseType === "RequestData");
      assert.ok(requests.some((e) => String(e.data.baseData.url).includes("/api/notifications") && e.data.baseData.responseCode === "200"),
        `a request for /api/notifications; got ${JSON.stringify(requests.map((e) => e.data.baseData.url))}`);
      assert.ok(!requests.some((e) => String(e.data.baseData.url).includes("/api/metrics")), "metrics scrapes are not traced");
      const dependencies = envelopes.filter((e) => e.data.baseType === "RemoteDependencyData");
      assert.ok(dependencies.some((e) => e.data.baseData.name === "GET /api/notifications"), "Herald's own span for the API route");
      const metricNames = envelopes.filter((e) => e.data.baseType === "MetricData").flatMap((e) => e.data.baseData.metrics.map((m: { name: string }) => m.name));
      assert.ok(metricNames.includes("herald.up"), `the heartbeat metric; got ${[...new Set(metricNames)].join(", ")}`);
    });

    it("keeps serving when Application Insights cannot be reached", async () => {
      const closed = net.createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve())); // nothing listens there now
      const { url, stop } = await startWithAzureMonitor(`https://127.0.0.1:${port}/`);
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${url}/api/notifications`)).status, 200);
      assert.equal(await stop(), 0);
    });
  });
});
