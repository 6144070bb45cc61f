/**
 * Delivery benchmark: Herald's engine against the connector emulator (in this process), SQLite on a temp file.
 *
 *  a) 2,000 personal installations in one tenant, 40 ms latency, Teams' limits on: msg/s vs the 50/s ceiling,
 *     lost (targets with no delivered activity), duplicates (targets with more than one), 429s.
 *  b) The TeamsFx template loop on the same emulator and references: ConversationBot + getPagedInstallations +
 *     sendAdaptiveCard one by one, run for a bounded time and its msg/s measured over that time (extrapolated:
 *     it would need total/rate seconds for all 2,000).
 *  c) (a) with 2% injected 412/502/503/504 (seeded): retried, still nothing lost.
 *  d) 100 tenants × 20 users, limits off, 0 ms latency: msg/s of one process and its RSS.
 *
 *   npx tsx bench/delivery-bench.ts [a] [b] [c] [d] [--users=2000] [--teamsfx-seconds=60]     (default: all parts)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BotBuilderCloudAdapter } from "@microsoft/teamsfx";
import type { ConversationReference } from "botbuilder";
import { DeliveryEngine } from "../src/delivery/engine";
import { BotFrameworkConnector, createCloudAdapter } from "../src/delivery/teams-connector";
import { ConnectorEmulator, seedTenant, type SeededTenant } from "../src/emulator";
import { silentLogger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import { targetKey, type DeliveryInput, type Job } from "../src/store/types";

export type DeliveryBenchPart = "a" | "b" | "c" | "d";

export interface DeliveryBenchOptions {
  parts?: DeliveryBenchPart[];
  /** Users in the single-tenant runs (a, b, c). Default 2000. */
  users?: number;
  /** How long (b) runs. Default 60 s. */
  teamsfxSeconds?: number;
}

const CEILING = 50;

function card(job: Job) {
  return {
    type: "AdaptiveCard", version: "1.5", $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    body: [{ type: "TextBlock", text: job.content.title, weight: "Bolder", size: "Medium" }, { type: "TextBlock", text: job.content.text, wrap: true }],
  };
}

function render(job: Job) {
  return { type: "message", attachments: [{ contentType: "application/vnd.microsoft.card.adaptive", content: card(job) }] };
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function personalInputs(tenant: SeededTenant, serviceUrl: string): DeliveryInput[] {
  return tenant.users.map((u) => {
    const key = targetKey(u.tenantId, u.personalConversationId);
    return {
      recipientKey: key,
      recipient: { tenantId: u.tenantId, serviceUrl, conversationId: u.personalConversationId, userId: u.id, aadObjectId: u.aadObjectId, targetKey: key },
    };
  });
}

/** Lost / duplicated targets as the emulator saw them. */
function tally(emulator: ConnectorEmulator, conversationIds: string[]) {
  const counts = new Map<string, number>();
  for (const d of emulator.delivered()) counts.set(d.conversationId, (counts.get(d.conversationId) ?? 0) + 1);
  const lost = conversationIds.filter((id) => !counts.has(id)).length;
  const duplicates = conversationIds.filter((id) => (counts.get(id) ?? 0) > 1).length;
  return { lost, duplicates };
}

/** Send one job through a fresh engine on a fresh SQLite file; returns timing and the engine's view. */
async function runEngine(dir: string, name: string, inputs: DeliveryInput[], engineOptions: Partial<ConstructorParameters<typeof DeliveryEngine>[0]> = {}) {
  const store = new SqliteStore(path.join(dir, `${name}.db`), silentLogger());
  const connector = new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" });
  const engine = new DeliveryEngine({ store, connector, render, logger: silentLogger(), ...engineOptions });
  try {
    await engine.start();
    const { job } = await store.jobs.createJob({
      id: `bench-${name}`, status: "queued", content: { title: "Benchmark", text: "Delivery benchmark message" },
      audience: { kind: "all" }, triggeredBy: "bench", createdAt: new Date().toISOString(),
    }, inputs);
    const started = process.hrtime.bigint();
    engine.wake(job.id);
    await engine.idle();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const counts = await store.jobs.counts(job.id);
    const finished = await store.jobs.getJob(job.id);
    return { seconds, counts, throttleRetries: finished?.throttleRetries ?? 0, status: finished?.status };
  } finally {
    await engine.stop();
    await store.close();
  }
}

/** First-to-last delivered activity rate: the steady rate, without start-up and the last retry's tail. */
function steadyRate(emulator: ConnectorEmulator): number {
  const at = emulator.delivered().map((d) => d.at).sort((x, y) => x - y);
  return at.length > 1 ? (at.length - 1) / ((at[at.length - 1] - at[0]) / 1000) : 0;
}

async function partA(dir: string, emulator: ConnectorEmulator, tenant: SeededTenant, serviceUrl: string, label: "a" | "c") {
  emulator.reset();
  if (label === "c") {
    for (const status of [412, 502, 503, 504]) emulator.addFault({ match: { route: "send" }, status, probability: 0.005 });
  }
  const inputs = personalInputs(tenant, serviceUrl);
  const run = await runEngine(dir, label, inputs);
  const stats = emulator.stats();
  const { lost, duplicates } = tally(emulator, inputs.map((i) => i.recipient.conversationId!));
  const msgPerSec = run.counts.sent / run.seconds;
  return {
    targets: inputs.length,
    sent: run.counts.sent,
    failed: run.counts.failed,
    seconds: round(run.seconds),
    msgPerSec: round(msgPerSec),
    steadyMsgPerSec: round(steadyRate(emulator)),
    ceilingPerSec: CEILING,
    percentOfCeiling: round((100 * msgPerSec) / CEILING),
    lost,
    duplicates,
    http429: stats.throttled,
    injectedFaults: stats.faultsInjected,
    connectorRequests: stats.requests,
    jobStatus: run.status,
  };
}

/** TeamsFx's ConversationReferenceStore over a fixed list, paged by offset. */
function referenceStore(references: Array<Partial<ConversationReference>>) {
  return {
    async add() { return false; },
    async remove() { return false; },
    async list(pageSize = 100, continuationToken?: string) {
      const offset = continuationToken ? Number(continuationToken) : 0;
      const data = references.slice(offset, offset + pageSize);
      const next = offset + pageSize;
      return { data, continuationToken: next < references.length ? String(next) : undefined };
    },
  };
}

async function partB(emulator: ConnectorEmulator, tenant: SeededTenant, serviceUrl: string, budgetSeconds: number) {
  emulator.reset();
  const references: Array<Partial<ConversationReference>> = tenant.users.map((u) => ({
    channelId: "msteams", serviceUrl,
    conversation: { id: u.personalConversationId, tenantId: u.tenantId, conversationType: "personal", isGroup: false, name: "" },
    bot: { id: `28:${emulator.appId}`, name: "bot" }, user: { id: u.id, name: u.name, aadObjectId: u.aadObjectId },
  }));
  const bot = new BotBuilderCloudAdapter.ConversationBot({
    adapter: createCloudAdapter({}),
    notification: { enabled: true, store: referenceStore(references) as never, botAppId: "" } as never,
  });
  const job = { content: { title: "Benchmark", text: "Delivery benchmark message" } } as Job;
  const started = Date.now();
  const deadline = started + budgetSeconds * 1000;
  let sent = 0;
  let errors = 0;
  let token: string | undefined;
  // The Teams Toolkit notification template's loop, verbatim in spirit: page installations, send one by one.
  outer: do {
    const page = await bot.notification!.getPagedInstallations(100, token);
    token = page.continuationToken;
    for (const target of page.data) {
      if (Date.now() >= deadline) break outer;
      try {
        await target.sendAdaptiveCard(card(job));
        sent++;
      } catch {
        errors++;
      }
    }
  } while (token && Date.now() < deadline);
  const seconds = (Date.now() - started) / 1000;
  const stats = emulator.stats();
  const msgPerSec = sent / seconds;
  return {
    ranSeconds: round(seconds),
    sent,
    errors,
    msgPerSec: round(msgPerSec, 2),
    extrapolatedSecondsFor2000: round(tenant.users.length / Math.max(msgPerSec, 1e-9)),
    connectorRequests: stats.requests,
    requestsByRoute: stats.byRoute,
    http429: stats.throttled,
    note: `bounded run of ${budgetSeconds} s; msg/s measured over it and extrapolated to all ${tenant.users.length} targets`,
  };
}

/** The emulator in its own process (src/emulator/cli), so (d) measures Herald's process alone. */
async function spawnEmulator(): Promise<{ serviceUrl: string; child: ChildProcess }> {
  const compiled = !__filename.endsWith(".ts");
  const cli = path.resolve(__dirname, "../src/emulator", compiled ? "cli.js" : "cli.ts");
  const args = [...(compiled ? [] : ["--import", "tsx"]), cli, "--port", "0", "--no-limits", "--latency", "0", "--users", "1", "--json"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const serviceUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      const line = out.split("\n")[0];
      if (out.includes("\n")) {
        try {
          resolve((JSON.parse(line) as { serviceUrl: string }).serviceUrl);
        } catch (err) {
          reject(err);
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return { serviceUrl, child };
}

async function control(serviceUrl: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${serviceUrl}/_emulator/${route}`, {
    method, headers: body ? { "content-type": "application/json" } : undefined, body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`emulator control ${method} ${route}: ${res.status}`);
  return res.json();
}

async function partD(dir: string) {
  const { serviceUrl, child } = await spawnEmulator();
  try {
    const inputs: DeliveryInput[] = [];
    for (let t = 0; t < 100; t++) {
      const spec = { tenantId: `bench-tenant-${String(t).padStart(3, "0")}`, users: 20 };
      await control(serviceUrl, "POST", "seed", spec);
      inputs.push(...personalInputs(seedTenant(spec), serviceUrl));
    }
    const rssBefore = process.memoryUsage().rss;
    const run = await runEngine(dir, "d", inputs);
    const delivered = (await control(serviceUrl, "GET", "deliveries")) as { deliveries: Array<{ conversationId: string }> };
    const counts = new Map<string, number>();
    for (const d of delivered.deliveries) counts.set(d.conversationId, (counts.get(d.conversationId) ?? 0) + 1);
    const ids = inputs.map((i) => i.recipient.conversationId!);
    return {
      tenants: 100,
      targets: inputs.length,
      sent: run.counts.sent,
      seconds: round(run.seconds, 2),
      msgPerSec: round(run.counts.sent / run.seconds),
      lost: ids.filter((id) => !counts.has(id)).length,
      duplicates: ids.filter((id) => (counts.get(id) ?? 0) > 1).length,
      rssMb: round(process.memoryUsage().rss / 1048576),
      rssMbBefore: round(rssBefore / 1048576),
      note: "emulator in a child process; the engine still paces each tenant at 50/s (ceiling 5,000/s)",
    };
  } finally {
    child.kill();
  }
}

export async function benchDelivery(options: DeliveryBenchOptions = {}): Promise<Record<string, unknown>> {
  const parts = new Set(options.parts ?? ["a", "b", "c", "d"]);
  const users = options.users ?? 2000;
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-delivery-bench-"));
  const emulator = new ConnectorEmulator({ latencyMs: 40, limits: true, recordActivities: false, seed: 7 });
  const result: Record<string, unknown> = {};
  try {
    const serviceUrl = await emulator.start();
    const tenant = emulator.seed({ tenantId: "bench-delivery", users });
    if (parts.has("a")) result.a_singleTenant = await partA(dir, emulator, tenant, serviceUrl, "a");
    if (parts.has("b")) result.b_teamsfxLoop = await partB(emulator, tenant, serviceUrl, options.teamsfxSeconds ?? 60);
    if (parts.has("a") && parts.has("b")) {
      const a = result.a_singleTenant as { msgPerSec: number };
      const b = result.b_teamsfxLoop as { msgPerSec: number };
      result.heraldVsTeamsfx = round(a.msgPerSec / Math.max(b.msgPerSec, 1e-9), 1);
    }
    if (parts.has("c")) result.c_faults2pct = await partA(dir, emulator, tenant, serviceUrl, "c");
  } finally {
    await emulator.stop();
  }
  try {
    if (parts.has("d")) result.d_multiTenant = await partD(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const args = argv.filter((a): a is DeliveryBenchPart => ["a", "b", "c", "d"].includes(a));
  const numberArg = (name: string) => {
    const hit = argv.find((a) => a.startsWith(`--${name}=`));
    return hit ? Number(hit.split("=")[1]) : undefined;
  };
  benchDelivery({ parts: args.length ? args : undefined, users: numberArg("users"), teamsfxSeconds: numberArg("teamsfx-seconds") }).then(
    (r) => {
      process.stdout.write(JSON.stringify(r, null, 2) + "\n");
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
