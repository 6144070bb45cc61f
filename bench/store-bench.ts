/**
 * Storage benchmark: how fast a backend takes installs, pages an audience, finds a person and stores a job.
 *
 *   npx tsx bench/store-bench.ts            # SQLite (temp file) and memory, 100,000 targets/members
 *   npx tsx bench/store-bench.ts 20000      # smaller n
 *
 * Goals (SQLite): paging 100k targets < 1 s; members.find by aadObjectId < 1 ms.
 * Works against a shared store: everything it writes lives under a fresh tenant id.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { targetKey, type HeraldStore, type MemberInput, type TargetInput } from "../src/store/types";

const SERVICE_URL = "https://smba.trafficmanager.net/emea/";
/** How many upserts are in flight at once, like a burst of install activities. */
const CONCURRENT_UPSERTS = 100;
const LOOKUPS = 10_000;

export async function benchStore(label: string, store: HeraldStore, n = 100_000): Promise<Record<string, number>> {
  const tenantId = randomUUID();
  const results: Record<string, number> = { n };

  // 1. Install capture: n personal targets, upserted CONCURRENT_UPSERTS at a time.
  let started = performance.now();
  for (let i = 0; i < n; i += CONCURRENT_UPSERTS) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(n, i + CONCURRENT_UPSERTS); j++) batch.push(store.targets.upsert(personalTarget(tenantId, j)));
    await Promise.all(batch);
  }
  results.insertTargetsPerSec = Math.round(n / ((performance.now() - started) / 1000));

  // 2. Page through the whole audience, 1,000 at a time.
  started = performance.now();
  let seen = 0;
  let pages = 0;
  let cursor: string | undefined;
  do {
    const page = await store.targets.list({ tenantId, status: "active" }, 1000, cursor);
    seen += page.items.length;
    pages++;
    cursor = page.cursor;
  } while (cursor);
  results.pageAllMs = round(performance.now() - started);
  results.pages = pages;
  if (seen !== n) throw new Error(`${label}: paging saw ${seen} targets, expected ${n}`);

  // 3. n members in 100 teams, then random lookups by AAD object id.
  const aadIds: string[] = [];
  started = performance.now();
  const perTeam = Math.ceil(n / 100);
  for (let team = 0; team * perTeam < n; team++) {
    const members: MemberInput[] = [];
    for (let i = team * perTeam; i < Math.min(n, (team + 1) * perTeam); i++) {
      const aadObjectId = randomUUID();
      aadIds.push(aadObjectId);
      members.push({ tenantId, userId: `29:1user-${i}`, aadObjectId, upn: `user${i}@contoso.com`, name: `User ${i}`, serviceUrl: SERVICE_URL });
    }
    await store.members.upsertMembers(targetKey(tenantId, `19:team-${team}@thread.tacv2`), members);
  }
  results.insertMembersPerSec = Math.round(n / ((performance.now() - started) / 1000));

  const timings = new Float64Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) {
    const aadObjectId = aadIds[Math.floor(Math.random() * aadIds.length)]!;
    const t0 = performance.now();
    const member = await store.members.find({ aadObjectId }, tenantId);
    timings[i] = performance.now() - t0;
    if (member?.aadObjectId !== aadObjectId) throw new Error(`${label}: lookup of ${aadObjectId} failed`);
  }
  timings.sort();
  results.lookupMeanMs = round(timings.reduce((a, b) => a + b, 0) / LOOKUPS, 4);
  results.lookupP99Ms = round(timings[Math.floor(LOOKUPS * 0.99)]!, 4);

  // 4. A job to all n: one createJob, then claim every pending delivery in seq order, 500 at a time.
  const jobId = randomUUID();
  const deliveries = Array.from({ length: n }, (_, i) => {
    const conversationId = `a:1${i.toString(36)}-${jobId.slice(0, 8)}`;
    return { recipientKey: targetKey(tenantId, conversationId), recipient: { tenantId, serviceUrl: SERVICE_URL, conversationId, userId: `29:1user-${i}` } };
  });
  started = performance.now();
  await store.jobs.createJob(
    { id: jobId, status: "queued", content: { title: "Bench", text: "bench" }, audience: { tenantId }, triggeredBy: "bench", createdAt: new Date().toISOString() },
    deliveries,
  );
  results.createJobMs = round(performance.now() - started);
  started = performance.now();
  let claimed = 0;
  let afterSeq = -1;
  for (;;) {
    const batch = await store.jobs.listDeliveriesByStatus(jobId, ["pending"], 500, afterSeq);
    if (batch.length === 0) break;
    claimed += batch.length;
    afterSeq = batch[batch.length - 1]!.seq;
  }
  results.walkPendingMs = round(performance.now() - started);
  if (claimed !== n) throw new Error(`${label}: walked ${claimed} pending deliveries, expected ${n}`);
  started = performance.now();
  await store.jobs.counts(jobId);
  results.countsMs = round(performance.now() - started, 2);

  results.rssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
  return results;
}

function personalTarget(tenantId: string, i: number): TargetInput {
  const conversationId = `a:1${i.toString(36).padStart(6, "0")}-${tenantId.slice(0, 8)}`;
  return {
    key: targetKey(tenantId, conversationId),
    kind: "personal",
    tenantId,
    conversationId,
    serviceUrl: SERVICE_URL,
    userId: `29:1user-${i}`,
    aadObjectId: randomUUID(),
    name: `User ${i}`,
    locale: "en-US",
    reference: {
      bot: { id: "28:herald", name: "Herald" },
      user: { id: `29:1user-${i}`, name: `User ${i}` },
      conversation: { id: conversationId, conversationType: "personal", tenantId, isGroup: false, name: "" },
      channelId: "msteams",
      serviceUrl: SERVICE_URL,
    },
  };
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const { silentLogger } = await import("../src/logger");
  const { SqliteStore } = await import("../src/store/sqlite");
  const { MemoryStore } = await import("../src/store/memory");
  const dir = mkdtempSync(join(tmpdir(), "herald-bench-"));
  try {
    const path = join(dir, "bench.db");
    const sqlite = new SqliteStore(path, silentLogger());
    const sqliteResults = await benchStore("sqlite", sqlite, n);
    await sqlite.close();
    // Reopening runs PRAGMA quick_check over the whole file: the start-up price of refusing a damaged store.
    const started = performance.now();
    await new SqliteStore(path, silentLogger()).close();
    sqliteResults.reopenWithQuickCheckMs = round(performance.now() - started);
    sqliteResults.fileMb = round(statSync(path).size / 1024 / 1024);
    console.log(JSON.stringify({ store: "sqlite", ...sqliteResults }));
    const memory = new MemoryStore();
    console.log(JSON.stringify({ store: "memory", ...(await benchStore("memory", memory, n)) }));
    await memory.close();
    const goals = [
      [`page ${n} from SQLite < 1 s`, sqliteResults.pageAllMs! < 1000],
      ["SQLite lookup by aadObjectId < 1 ms (p99)", sqliteResults.lookupP99Ms! < 1],
    ] as const;
    for (const [goal, met] of goals) console.log(`${met ? "met" : "MISSED"}: ${goal}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
