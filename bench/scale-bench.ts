/**
 * Scale-out benchmarks (issue 13). Everything on 127.0.0.1: Azurite (Table + Blob), the connector emulator, Herald
 * processes started from the build (`npm run build` first).
 *
 *   npx tsx bench/scale-bench.ts [single] [instances] [takeover] [installs] [big]        (default: all parts)
 *
 *  single     one tenant of 1,000 people, 40 ms latency, Teams' limits: msg/s on the Azure Table backend (Azurite)
 *             against SQLite, and the store round trips per delivery (HTTP requests to Azurite).
 *  instances  aggregate msg/s of 1, 2 and 3 Herald processes on one Azurite account, 30 tenants × 100 people,
 *             limits on (ceiling 30 × 50 = 1,500/s), emulator in its own process.
 *  takeover   3 instances mid-broadcast: time until a killed (kill -9) or stopped (SIGTERM) instance's partitions
 *             are owned again.
 *  installs   install capture through /api/messages with 1 and 3 instances on Azurite.
 *  big        a 100,000-recipient broadcast on SQLite: time to resolve the audience, the POST's answer time, and
 *             the RSS of the Herald process while it sends (100 tenants, limits off).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { partitionOf } from "../src/cluster/partitions";
import { AudienceResolver } from "../src/delivery/audience";
import { DeliveryEngine } from "../src/delivery/engine";
import { BotFrameworkConnector, createCloudAdapter } from "../src/delivery/teams-connector";
import { ActivityDriver } from "../src/emulator/activity-driver";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import { seedTenant } from "../src/emulator/seed";
import type { SeededTenant } from "../src/emulator/types";
import { silentLogger } from "../src/logger";
import { openAzureTableStore } from "../src/store/azure-table";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey, type DeliveryInput, type HeraldStore, type TargetInput } from "../src/store/types";
import { startAzurite, type AzuriteTable } from "../test/support/azurite";
import { spawnHerald, stopProcess, type HeraldProcess } from "../test/support/herald-process";

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function personalTarget(u: SeededTenant["users"][number], serviceUrl: string): TargetInput {
  return {
    key: targetKey(u.tenantId, u.personalConversationId), kind: "personal", tenantId: u.tenantId, conversationId: u.personalConversationId,
    serviceUrl, userId: u.id, aadObjectId: u.aadObjectId, name: u.name,
    reference: { channelId: "msteams", serviceUrl, conversation: { id: u.personalConversationId, tenantId: u.tenantId, conversationType: "personal" } as never },
  };
}

async function poolMap<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Counts HTTP requests to one host:port from this process (the store's round trips to Azurite). */
function countRequestsTo(port: number): { count(): number; stop(): void } {
  let n = 0;
  const original = http.request;
  (http as { request: typeof http.request }).request = ((...args: Parameters<typeof http.request>) => {
    const options = args[0] as http.RequestOptions | URL | string;
    const target = typeof options === "string" ? new URL(options) : options;
    if (Number((target as http.RequestOptions).port ?? (target as URL).port) === port) n++;
    return original(...args);
  }) as typeof http.request;
  return { count: () => n, stop: () => { (http as { request: typeof http.request }).request = original; } };
}

// ------------------------------------------------------------------------------------------------ single

async function single(azurite: AzuriteTable) {
  const result: Record<string, unknown> = {};
  for (const kind of ["azure-table", "sqlite"] as const) {
    // Teams in a process of its own, as in production: a pause of Herald's event loop (a synchronous SQLite commit)
    // must not also pause the clock that judges its pace.
    const { serviceUrl, child } = await spawnEmulator(40, true);
    const [tenant] = await seedTenants(serviceUrl, 1, 1000, "bench-single");
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-single-"));
    const store: HeraldStore = kind === "azure-table"
      ? await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: `single${randomUUID().slice(0, 8)}` }, silentLogger())
      : new SqliteStore(path.join(dir, "herald.db"), silentLogger());
    const inputs: DeliveryInput[] = tenant!.users.map((u) => {
      const key = targetKey(u.tenantId, u.personalConversationId);
      return { recipientKey: key, recipient: { tenantId: u.tenantId, serviceUrl, conversationId: u.personalConversationId, userId: u.id, aadObjectId: u.aadObjectId, targetKey: key } };
    });
    const engine = new DeliveryEngine({
      store, connector: new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" }), logger: silentLogger(), progressIntervalMs: 0,
      render: () => ({ type: "message", text: "Benchmark" }),
    });
    try {
      await engine.start();
      const { job } = await store.jobs.createJob({ id: randomUUID(), status: "queued", content: { title: "B", text: "b" }, audience: {}, triggeredBy: "bench", createdAt: new Date().toISOString() }, inputs);
      const counter = kind === "azure-table" ? countRequestsTo(Number(new URL(azurite.tableUrl).port)) : undefined;
      const started = process.hrtime.bigint();
      engine.wake(job.id);
      await engine.idle();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      counter?.stop();
      const counts = await store.jobs.counts(job.id);
      const stats = await control<{ throttled: number }>(serviceUrl, "GET", "stats");
      const { busiest } = await control<{ busiest: number }>(serviceUrl, "GET", "busiest?ms=1000");
      result[kind] = {
        sent: counts.sent, seconds: round(seconds), msgPerSec: round(counts.sent / seconds), ofCeiling: round(counts.sent / seconds / 50, 3),
        http429: stats.throttled, busiestSecond: busiest,
        ...(counter ? { storeRequestsPerDelivery: round(counter.count() / counts.sent, 2) } : {}),
      };
    } finally {
      await engine.stop();
      await store.close();
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return result;
}

// ------------------------------------------------------------------------------------------- helpers

async function spawnEmulator(latencyMs: number, limits: boolean): Promise<{ serviceUrl: string; child: ChildProcess }> {
  const cli = path.resolve(__dirname, "..", "dist", "src", "emulator", "cli.js");
  const child = spawn(process.execPath, [cli, "--port", "0", "--latency", String(latencyMs), ...(limits ? [] : ["--no-limits"]), "--users", "1", "--json"], { stdio: ["ignore", "pipe", "inherit"] });
  const serviceUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.includes("\n")) resolve((JSON.parse(out.split("\n")[0]!) as { serviceUrl: string }).serviceUrl);
    });
    child.once("exit", (code) => reject(new Error(`emulator exited ${code}`)));
  });
  return { serviceUrl, child };
}

async function control<T>(serviceUrl: string, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${serviceUrl}/_emulator/${route}`, { method, headers: body ? { "content-type": "application/json" } : undefined, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`emulator ${method} ${route}: ${res.status}`);
  return res.json() as Promise<T>;
}

async function seedTenants(serviceUrl: string, count: number, users: number, prefix: string): Promise<SeededTenant[]> {
  const tenants: SeededTenant[] = [];
  for (let t = 0; t < count; t++) {
    const spec = { tenantId: `${prefix}-${String(t).padStart(3, "0")}`, users };
    await control(serviceUrl, "POST", "seed", spec);
    tenants.push(seedTenant(spec));
  }
  return tenants;
}

async function writeTargets(store: HeraldStore, tenants: SeededTenant[], serviceUrl: string): Promise<void> {
  await poolMap(tenants.flatMap((t) => t.users), 32, (u) => store.targets.upsert(personalTarget(u, serviceUrl)));
}

async function cluster(members: HeraldProcess[]): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const view = (await members[0]!.api<{ instances: Array<{ partitions: number[] }>; unowned: number[] }>("GET", "/api/cluster")).body;
    // Settled: every partition owned and shared fairly (no instance more than one above another), so the
    // measurement does not include the handovers of the first balancing rounds.
    const sizes = view.instances.map((i) => i.partitions.length);
    if (view.unowned.length === 0 && view.instances.length === members.length && Math.max(...sizes) - Math.min(...sizes) <= 1) return;
    await sleep(100);
  }
  throw new Error("the instances did not share the partitions");
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error("timed out");
}

// -------------------------------------------------------------------------------------------- instances

async function instances(azurite: AzuriteTable) {
  const { serviceUrl, child } = await spawnEmulator(20, true);
  const out: Record<string, unknown> = {};
  try {
    const tenants = await seedTenants(serviceUrl, 30, 100, `inst-${randomUUID().slice(0, 6)}`);
    for (const n of [1, 2, 3]) {
      const prefix = `inst${n}${randomUUID().replace(/-/g, "").slice(0, 8)}`;
      const store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
      await writeTargets(store, tenants, serviceUrl);
      await store.close();
      const env = { HERALD_STORE: `azure-table:${azurite.connectionString}`, HERALD_TABLE_PREFIX: prefix, LOG_LEVEL: "info" };
      const heralds = await Promise.all(Array.from({ length: n }, () => spawnHerald(env)));
      try {
        await cluster(heralds);
        await control(serviceUrl, "POST", "reset");
        const started = Date.now();
        const id = (await heralds[0]!.api<{ id: string }>("POST", "/api/notifications", { title: "Scale", text: "bench" })).body.id;
        const report = await waitFor(async () => {
          const r = (await heralds[heralds.length - 1]!.api<{ status: string; counts: { sent: number } }>("GET", `/api/notifications/${id}`)).body;
          return r.status === "completed" ? r : undefined;
        }, 600_000);
        const seconds = (Date.now() - started) / 1000;
        const stats = await control<{ throttled: number; delivered: number }>(serviceUrl, "GET", "stats");
        const copies = await control<{ deliveries: Array<{ conversationId: string }> }>(serviceUrl, "GET", "deliveries");
        const perConversation = new Map<string, number>();
        for (const d of copies.deliveries) perConversation.set(d.conversationId, (perConversation.get(d.conversationId) ?? 0) + 1);
        const duplicates = [...perConversation.values()].reduce((sum, c) => sum + c - 1, 0);
        if (process.env.BENCH_DEBUG) console.error(heralds.map((h) => h.output()).join("\n").split("\n").filter((l) => /"level":(40|50)/.test(l)).slice(0, 20).join("\n"));
        out[`${n} instance${n > 1 ? "s" : ""}`] = {
          sent: report.counts.sent, seconds: round(seconds), msgPerSec: round(report.counts.sent / seconds), http429: stats.throttled,
          copies: copies.deliveries.length, people: perConversation.size, duplicates,
        };
      } finally {
        await Promise.all(heralds.map((h) => stopProcess(h)));
      }
    }
  } finally {
    child.kill();
  }
  return out;
}

// --------------------------------------------------------------------------------------------- takeover

async function takeover(azurite: AzuriteTable) {
  const { serviceUrl, child } = await spawnEmulator(10, true);
  const result: Record<string, number> = {};
  try {
    const tenants = await seedTenants(serviceUrl, 6, 300, `take-${randomUUID().slice(0, 6)}`);
    for (const signal of ["SIGKILL", "SIGTERM"] as const) {
      const prefix = `take${randomUUID().replace(/-/g, "").slice(0, 10)}`;
      const store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
      await writeTargets(store, tenants, serviceUrl);
      await store.close();
      const env = { HERALD_STORE: `azure-table:${azurite.connectionString}`, HERALD_TABLE_PREFIX: prefix, LOG_LEVEL: "info", HERALD_TENANT_RATE: "20" };
      const heralds = await Promise.all(Array.from({ length: 3 }, () => spawnHerald(env)));
      try {
        await cluster(heralds);
        await heralds[0]!.api("POST", "/api/notifications", { title: "Takeover", text: "bench" });
        await sleep(3000);
        const partition = partitionOf(tenants[0]!.tenantId, 32);
        const owner = await waitFor(async () => {
          for (const h of heralds) if ((await h.api<{ partitions: number[] }>("GET", "/api/health")).body.partitions.includes(partition)) return h;
          return undefined;
        }, 10_000);
        const others = heralds.filter((h) => h !== owner);
        const at = Date.now();
        owner.child.kill(signal);
        await waitFor(async () => {
          for (const h of others) if ((await h.api<{ partitions: number[] }>("GET", "/api/health")).body.partitions.includes(partition)) return true;
          return undefined;
        }, 60_000);
        result[signal === "SIGKILL" ? "killMinus9Ms" : "sigtermMs"] = Date.now() - at;
      } finally {
        await Promise.all(heralds.map((h) => stopProcess(h, "SIGKILL")));
      }
    }
  } finally {
    child.kill();
  }
  return { ...result, leaseSeconds: 15, balanceTickMs: 500 };
}

// --------------------------------------------------------------------------------------------- installs

async function installs(azurite: AzuriteTable) {
  const emulator = new ConnectorEmulator({ limits: false, recordActivities: false });
  const serviceUrl = await emulator.start();
  const out: Record<string, unknown> = {};
  try {
    for (const n of [1, 3]) {
      const tenant = emulator.seed({ tenantId: `installs-${n}-${randomUUID().slice(0, 6)}`, users: 3000 });
      const prefix = `inst${randomUUID().replace(/-/g, "").slice(0, 10)}`;
      const env = { HERALD_STORE: `azure-table:${azurite.connectionString}`, HERALD_TABLE_PREFIX: prefix, LOG_LEVEL: "info" };
      const heralds = await Promise.all(Array.from({ length: n }, () => spawnHerald(env)));
      try {
        await cluster(heralds);
        const drivers = heralds.map((h) => new ActivityDriver({ botEndpoint: `${h.url}/api/messages`, serviceUrl }));
        const activities = tenant.users.flatMap((u, i) => [[i % n, drivers[i % n]!.installation(u, u, "add")], [i % n, drivers[i % n]!.botMembership(u, u, "membersAdded")]] as const);
        const started = process.hrtime.bigint();
        await Promise.all(drivers.map((d, i) => d.sendMany(activities.filter(([k]) => k === i).map(([, a]) => a), Math.ceil(64 / n))));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        for (const d of drivers) d.close();
        out[`${n} instance${n > 1 ? "s" : ""}`] = { installs: tenant.users.length, seconds: round(seconds), installsPerSecond: round(tenant.users.length / seconds) };
      } finally {
        await Promise.all(heralds.map((h) => stopProcess(h)));
      }
    }
  } finally {
    await emulator.stop();
  }
  return out;
}

// ------------------------------------------------------------------------------------------------- big

async function big() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-big-"));
  const dbPath = path.join(dir, "herald.db");
  const { serviceUrl, child } = await spawnEmulator(0, false);
  try {
    const tenants = await seedTenants(serviceUrl, 100, 1000, `big-${randomUUID().slice(0, 6)}`);
    const store = new SqliteStore(dbPath, silentLogger());
    await poolMap(tenants.flatMap((t) => t.users), 64, (u) => store.targets.upsert(personalTarget(u, serviceUrl)));
    const resolver = new AudienceResolver({ store, teamChannels: async () => [], defaultTimeZone: "UTC" } as never);
    const t0 = process.hrtime.bigint();
    const resolved = await resolver.resolve(undefined, {});
    const resolveMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await store.close();

    // Info: spawnHerald waits for the "Herald listening" line.
    const herald = await spawnHerald({ HERALD_STORE: `sqlite:${dbPath}`, LOG_LEVEL: "info", ...(process.env.BENCH_HERALD_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_HERALD_NODE_OPTIONS } : {}) });
    try {
      const rssBefore = rssMb(herald.child.pid!);
      const posted = process.hrtime.bigint();
      const res = await herald.api<{ id: string }>("POST", "/api/notifications", { title: "Everyone", text: "100k" });
      const postMs = Number(process.hrtime.bigint() - posted) / 1e6;
      let maxRss = rssBefore;
      const until = Date.now() + 30_000;
      let sent = 0;
      while (Date.now() < until) {
        await sleep(500);
        maxRss = Math.max(maxRss, rssMb(herald.child.pid!));
        sent = (await herald.api<{ counts: { sent: number } }>("GET", `/api/notifications/${res.body.id}`)).body.counts.sent;
      }
      return {
        recipients: resolved.length, resolveAudienceMs: round(resolveMs), postAnswerMs: round(postMs),
        rssMbBeforePost: round(rssBefore), maxRssMbWhileSending: round(maxRss), sentIn30s: sent, msgPerSec: round(sent / 30),
      };
    } finally {
      await stopProcess(herald);
    }
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return line ? Number(line.replace(/\D+/g, "")) / 1024 : 0;
}

// ------------------------------------------------------------------------------------------------- main

/** Each part's result as soon as it is known (stderr), so a later part's failure does not lose it. */
function progress(part: string, result: unknown): void {
  console.error(`scale ${part}: ${JSON.stringify(result)}`);
}

export async function benchScale(parts: string[] = ["single", "instances", "takeover", "installs", "big"]): Promise<Record<string, unknown>> {
  const azurite = await startAzurite({ blob: true });
  const result: Record<string, unknown> = {};
  try {
    if (parts.includes("single")) progress("single", (result.single = await single(azurite)));
    if (parts.includes("instances")) progress("instances", (result.instances = await instances(azurite)));
    if (parts.includes("takeover")) progress("takeover", (result.takeover = await takeover(azurite)));
    if (parts.includes("installs")) progress("installs", (result.installs = await installs(azurite)));
  } finally {
    await azurite.stop();
  }
  if (parts.includes("big")) progress("big", (result.big = await big()));
  return result;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  benchScale(args.length ? args : undefined).then((r) => {
    console.log(JSON.stringify(r, null, 2));
    process.exit(0);
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
}
