/**
 * Several Herald processes on one Azure Storage account (Azurite's Table and Blob services), each tenant's Bot
 * Connector on its own emulator (Teams gives each tenant a service URL) with Teams' rate limits on. What Herald
 * promises with several instances: every person gets a broadcast exactly once, no tenant is ever sent more than
 * 50 requests/s, any instance answers for any job, an instance's death costs its in-flight requests at most and
 * a few seconds, and a graceful stop hands over at once.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { partitionOf } from "../../src/cluster/partitions";
import { ConnectorEmulator } from "../../src/emulator/connector-emulator";
import type { SeededTenant } from "../../src/emulator/types";
import { silentLogger } from "../../src/logger";
import { openAzureTableStore } from "../../src/store/azure-table";
import { targetKey, type HeraldStore } from "../../src/store/types";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { eventually } from "../support/herald-fixture";
import { spawnHerald, stopProcess, type HeraldProcess } from "../support/herald-process";

const PARTITIONS = 32;
const LEASE_MS = 15_000;

/** When (pino's `time`, ms) an instance last logged `message` for `partition`. */
function logTime(output: string, message: string, partition: number): number | undefined {
  let at: number | undefined;
  for (const line of output.split("\n")) {
    if (!line.includes(message)) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; partition?: number; time?: number };
      if (entry.msg === message && entry.partition === partition && typeof entry.time === "number") at = entry.time;
    } catch { /* not a log line */ }
  }
  return at;
}

interface Tenant {
  emulator: ConnectorEmulator;
  seeded: SeededTenant;
}

interface ClusterView {
  instances: Array<{ id: string; partitions: number[] }>;
  unowned: number[];
}

describe("scale-out: three Herald processes on one Azure Storage account (Azurite)", function () {
  this.timeout(300_000);
  let azurite: AzuriteTable;
  let dir: string;
  let prefix: string;
  let env: Record<string, string>;
  let tenants: Tenant[] = [];
  let processes: HeraldProcess[] = [];

  before(async () => {
    azurite = await startAzurite({ blob: true });
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-scale-"));
  });
  after(async () => {
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(processes.map((p) => stopProcess(p, "SIGKILL")));
    await Promise.all(tenants.map((t) => t.emulator.stop()));
    processes = [];
    tenants = [];
  });

  /** Tenants with personal installs of every user, each on its own emulator; the env for Heralds on a fresh prefix. */
  async function setup(tenantCount: number, users: number, extraEnv: Record<string, string> = {}): Promise<void> {
    prefix = `scale${randomUUID().replace(/-/g, "").slice(0, 10)}`;
    env = { HERALD_STORE: `azure-table:${azurite.connectionString}`, HERALD_TABLE_PREFIX: prefix, ...extraEnv };
    const store = await openStore();
    try {
      for (let t = 0; t < tenantCount; t++) {
        const emulator = new ConnectorEmulator({ latencyMs: 10, recordActivities: false });
        const serviceUrl = await emulator.start();
        const seeded = emulator.seed({ tenantId: `tenant-${t}-${randomUUID().slice(0, 8)}`, users });
        tenants.push({ emulator, seeded });
        await Promise.all(seeded.users.map((user) => store.targets.upsert({
          key: targetKey(user.tenantId, user.personalConversationId), kind: "personal", tenantId: user.tenantId,
          conversationId: user.personalConversationId, serviceUrl, userId: user.id, aadObjectId: user.aadObjectId, name: user.name,
          reference: { channelId: "msteams", serviceUrl, conversation: { id: user.personalConversationId, tenantId: user.tenantId, conversationType: "personal" } as never, user: { id: user.id, name: user.name } },
        })));
      }
    } finally {
      await store.close();
    }
  }

  const openStore = (): Promise<HeraldStore> => openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());

  async function startInstances(n: number): Promise<HeraldProcess[]> {
    // Each is remembered as soon as it runs, so afterEach stops it even when another failed to start.
    const started = await Promise.all(Array.from({ length: n }, () => spawnHerald(env).then((p) => {
      processes.push(p);
      return p;
    })));
    await balanced(processes.filter(alive));
    return started;
  }

  const alive = (p: HeraldProcess) => p.child.exitCode === null && p.child.signalCode === null;

  async function cluster(via: HeraldProcess): Promise<ClusterView> {
    return (await via.api<ClusterView>("GET", "/api/cluster")).body;
  }

  /** Every partition owned, by exactly the given processes, in fair shares. */
  async function balanced(members: HeraldProcess[]): Promise<void> {
    const ids = await Promise.all(members.map(instanceId));
    await eventually(async () => {
      const view = await cluster(members[0]!);
      const shares = view.instances.map((i) => i.partitions.length);
      return view.unowned.length === 0 && view.instances.length === members.length && view.instances.every((i) => ids.includes(i.id)) &&
        Math.max(...shares) - Math.min(...shares) <= 1;
    }, `${members.length} instances sharing ${PARTITIONS} partitions`, 30_000);
  }

  const instanceId = async (p: HeraldProcess) => (await p.api<{ instanceId: string }>("GET", "/api/health")).body.instanceId;

  /** The process owning a tenant's partition now. */
  async function ownerOf(tenant: Tenant): Promise<HeraldProcess> {
    const partition = partitionOf(tenant.seeded.tenantId, PARTITIONS);
    for (const p of processes.filter(alive)) {
      const health = (await p.api<{ partitions: number[] }>("GET", "/api/health")).body;
      if (health.partitions.includes(partition)) return p;
    }
    throw new Error(`nobody owns partition ${partition}`);
  }

  async function broadcast(via: HeraldProcess): Promise<string> {
    const res = await via.api<{ id: string }>("POST", "/api/notifications", { title: "Scale drill", text: "Exactly once, please." });
    assert.equal(res.status, 202);
    return res.body.id;
  }

  async function completed(via: () => HeraldProcess, id: string, timeoutMs = 120_000) {
    return (await eventually(async () => {
      const report = (await via().api<{ status: string; counts: Record<string, number> }>("GET", `/api/notifications/${id}`)).body;
      return report.status === "completed" ? report : undefined;
    }, "the broadcast to complete", timeoutMs))!;
  }

  /** Per person: how many copies arrived. */
  function copies(): { lost: string[]; duplicated: Map<string, number>; delivered: number } {
    const lost: string[] = [];
    const duplicated = new Map<string, number>();
    let delivered = 0;
    for (const { emulator, seeded } of tenants) {
      for (const user of seeded.users) {
        const n = emulator.delivered(user.personalConversationId).length;
        delivered += n;
        if (n === 0) lost.push(user.personalConversationId);
        if (n > 1) duplicated.set(user.personalConversationId, n);
      }
    }
    return { lost, duplicated, delivered };
  }

  const delivered = (tenant: Tenant) => tenant.emulator.delivered().length;

  it("one broadcast over six tenants from three instances: everyone exactly once, no tenant above 50 requests/s, the same report on every instance", async () => {
    await setup(6, 150);
    const [a, b, c] = await startInstances(3);
    // The job is created on `a`; tenants owned by b and c start on their owners (the doorbell).
    const owners = await Promise.all(tenants.map(ownerOf));
    assert.ok(owners.some((o) => o !== a), "some tenants are owned by another instance than the one taking the request");
    const id = await broadcast(a!);
    const report = await completed(() => b!, id);

    assert.equal(report.counts.sent, 900);
    const { lost, duplicated } = copies();
    assert.deepEqual(lost, []);
    assert.deepEqual([...duplicated.keys()], []);
    // Three instances each sending a tenant would reach ~150/s; one owner per tenant keeps it at Teams' 50. The
    // emulators stamp arrivals in this test process, which shares 2 cores with three Heralds and Azurite: when it is
    // not scheduled for a moment, requests that arrived over a longer span are stamped together (61 in one second
    // was seen once in CI; 50 otherwise). Hence an allowance that a second sender of the tenant (~100) still exceeds.
    for (const tenant of tenants) {
      const busiest = tenant.emulator.busiestWindow(1000, tenant.seeded.tenantId);
      assert.ok(busiest <= 50 + 15, `tenant ${tenant.seeded.tenantId} saw ${busiest} requests within one second`);
    }
    // Status and counts are the store's: every instance answers the same.
    const reports = await Promise.all([a, b, c].map(async (p) => (await p!.api("GET", `/api/notifications/${id}`)).body));
    for (const r of reports) assert.deepEqual(r, reports[0]);
  });

  it("kill -9 of an instance mid-broadcast: nothing lost, duplicates only among its in-flight requests, its partitions taken over within lease + 5 s", async () => {
    await setup(3, 200, { HERALD_TENANT_RATE: "25" });
    await startInstances(3);
    const victimTenant = tenants[0]!;
    const victim = await ownerOf(victimTenant);
    const victimId = await instanceId(victim);
    const survivors = () => processes.filter((p) => alive(p) && p !== victim);
    const id = await broadcast(survivors()[0]!);
    await eventually(() => delivered(victimTenant) >= 50, "a quarter of the victim's tenant", 60_000);

    await stopProcess(victim, "SIGKILL");
    const killedAt = Date.now();
    // What the store says was in flight when it died: the only deliveries that may arrive twice.
    const store = await openStore();
    const inFlight = new Set((await store.jobs.listDeliveriesByStatus(id, ["sending"], 10_000)).map((d) => d.recipient.conversationId!));
    await store.close();

    const victimPartitions = new Set(Array.from({ length: PARTITIONS }, (_, p) => p)
      .filter((p) => tenants.some((t) => partitionOf(t.seeded.tenantId, PARTITIONS) === p)));
    await eventually(async () => {
      const view = await cluster(survivors()[0]!);
      return view.unowned.length === 0 && !view.instances.some((i) => i.id === victimId) && view.instances.length === 2;
    }, "the survivors to own every partition", LEASE_MS + 30_000);
    const takeoverMs = Date.now() - killedAt;
    const report = await completed(() => survivors()[0]!, id);

    assert.equal(report.counts.sent, 600);
    const { lost, duplicated } = copies();
    assert.deepEqual(lost, []);
    for (const conversation of duplicated.keys()) assert.ok(inFlight.has(conversation), `${conversation} arrived twice but was not in flight at the kill`);
    assert.ok(duplicated.size <= inFlight.size);
    assert.ok(victimPartitions.size > 0);
    assert.ok(takeoverMs <= LEASE_MS + 5_000, `takeover after kill -9 took ${takeoverMs} ms`);
    console.log(`      kill -9: ${inFlight.size} in flight, ${duplicated.size} duplicated, takeover ${takeoverMs} ms`);
  });

  it("SIGTERM: the instance finishes what is in flight, hands its partitions over without waiting for its lease to lapse, and nothing is lost or duplicated", async () => {
    await setup(3, 200, { HERALD_TENANT_RATE: "25" });
    await startInstances(3);
    const tenant = tenants[0]!;
    const leaving = await ownerOf(tenant);
    const partition = partitionOf(tenant.seeded.tenantId, PARTITIONS);
    const others = () => processes.filter((p) => alive(p) && p !== leaving);
    const id = await broadcast(others()[0]!);
    await eventually(() => delivered(tenant) >= 50, "a quarter of the tenant", 60_000);

    const signalledAt = Date.now();
    leaving.child.kill("SIGTERM");
    await eventually(async () => {
      for (const p of others()) if ((await p.api<{ partitions: number[] }>("GET", "/api/health")).body.partitions.includes(partition)) return true;
      return false;
    }, "another instance to own the partition", 10_000);
    const handoverMs = Date.now() - signalledAt;
    const exit = await leaving.exited;
    const exitedMs = Date.now() - signalledAt;
    const report = await completed(() => others()[0]!, id);

    assert.equal(exit.code, 0);
    assert.ok(exitedMs < 10_000, `exited ${exitedMs} ms after SIGTERM`);
    // Released, not lapsed: another instance owned the partition before the leaving one's lease (15 s) could have
    // expired. Seen by the test's polling, which adds its own delay, so only this bound is asserted on it.
    assert.ok(handoverMs < LEASE_MS, `handover took ${handoverMs} ms`);
    // The takeover itself, by the instances' own clocks (their log lines): from the release of the lease to its
    // acquisition by another instance.
    const releasedAt = logTime(leaving.output(), "partition released", partition);
    const acquiredAt = Math.max(...others().map((p) => logTime(p.output(), "partition acquired", partition) ?? 0));
    assert.ok(releasedAt !== undefined, "the leaving instance logged the release");
    const takeoverMs = acquiredAt - releasedAt;
    assert.ok(takeoverMs >= 0 && takeoverMs < 3000, `takeover took ${takeoverMs} ms from release to acquisition`);
    assert.equal(report.counts.sent, 600);
    const { lost, duplicated } = copies();
    assert.deepEqual(lost, []);
    assert.deepEqual([...duplicated.keys()], [], "a graceful stop records every request it made");
    assert.match(leaving.output(), /left the cluster/);
    console.log(`      SIGTERM: takeover ${takeoverMs} ms after the release, seen by the test ${handoverMs} ms after the signal; exit ${exitedMs} ms`);
  });

  it("a rolling restart of every instance during a broadcast loses nothing", async () => {
    await setup(3, 300, { HERALD_TENANT_RATE: "20" });
    await startInstances(3);
    const id = await broadcast(processes[0]!);
    for (let i = 0; i < 3; i++) {
      const old = processes.filter(alive)[0]!;
      await stopProcess(old, "SIGTERM");
      await startInstances(1);
    }
    const report = await completed(() => processes.filter(alive)[0]!, id);
    assert.equal(report.counts.sent, 900);
    const { lost, duplicated } = copies();
    assert.deepEqual(lost, []);
    assert.deepEqual([...duplicated.keys()], []);
    assert.ok(processes.filter(alive).length === 3);
  });

  it("a schedule's slot runs once across three instances", async () => {
    await setup(1, 5);
    const schedules = path.join(dir, `${prefix}.json`);
    writeFileSync(schedules, JSON.stringify({
      schedules: [{ id: "minutely", cron: "* * * * *", timeZone: "UTC", notification: { title: "Stand-up", text: "What are you working on?" } }],
    }));
    env.HERALD_SCHEDULES_FILE = schedules;
    await startInstances(3); // each catches up the current minute's slot at start: only one may run it
    const store = await openStore();
    try {
      const jobs = await eventually(async () => {
        const mine = (await store.jobs.listJobs(100)).items.filter((j) => j.triggeredBy === "schedule:minutely");
        return mine.length ? mine : undefined;
      }, "the scheduled job", 30_000);
      await new Promise((r) => setTimeout(r, 2000));
      const all = (await store.jobs.listJobs(100)).items.filter((j) => j.triggeredBy === "schedule:minutely");
      const slots = all.map((j) => j.idempotencyKey);
      assert.equal(new Set(slots).size, slots.length, `one job per slot: ${slots.join(", ")}`);
      assert.ok(jobs!.length >= 1);
      await eventually(() => tenants[0]!.seeded.users.every((u) => tenants[0]!.emulator.delivered(u.personalConversationId).length === new Set(slots).size),
        "each slot delivered once to everyone", 30_000);
    } finally {
      await store.close();
    }
  });
});
