/**
 * The inbox recorder on its own: what a sent delivery means for whose inbox (1:1, group chat, channel, Graph
 * install), the batching, and the sweep that makes up for entries this process did not write.
 */
import { strict as assert } from "node:assert";
import sinon from "sinon";
import type { DeliveryCounts, DeliveryInput, Job } from "../../src/store/types";
import { InboxRecorder } from "../../src/inbox/inbox-recorder";
import { silentLogger } from "../../src/logger";
import { MemoryStore } from "../../src/store/memory";

const T = "tenant-inbox";
const SERVICE = "https://smba.trafficmanager.net/emea/";
const CHAT = "19:chat@thread.v2";
const TEAM = "19:team@thread.tacv2";

async function seed(store: MemoryStore): Promise<void> {
  await store.targets.upsert({ key: `_${T}_${CHAT}`, kind: "groupChat", tenantId: T, conversationId: CHAT, serviceUrl: SERVICE, reference: {}, name: "Release crew" });
  await store.targets.upsert({ key: `_${T}_${TEAM}`, kind: "channel", tenantId: T, conversationId: TEAM, teamId: TEAM, teamName: "Operations", serviceUrl: SERVICE, reference: {} });
  const people = [1, 2, 3].map((i) => ({ tenantId: T, userId: `29:u${i}`, aadObjectId: `aad-${i}`, name: `Person ${i}`, serviceUrl: SERVICE }));
  await store.members.upsertMembers(`_${T}_${CHAT}`, people.slice(0, 2));
  await store.members.upsertMembers(`_${T}_${TEAM}`, people);
  await store.members.upsertMembers(`_${T}_a:4`, [{ tenantId: T, userId: "29:u4", serviceUrl: SERVICE, upn: "noaad@contoso.com" }]);
}

const RECIPIENTS: DeliveryInput[] = [
  { recipientKey: `user:${T}:29:u1`, recipient: { tenantId: T, serviceUrl: SERVICE, userId: "29:u1", aadObjectId: "aad-1", conversationId: "a:1" } },
  { recipientKey: `user:${T}:29:u4`, recipient: { tenantId: T, serviceUrl: SERVICE, userId: "29:u4", conversationId: "a:4" } },
  { recipientKey: `_${T}_${CHAT}`, recipient: { tenantId: T, serviceUrl: SERVICE, conversationId: CHAT, targetKey: `_${T}_${CHAT}` } },
  { recipientKey: `thread:${T}:${TEAM}`, recipient: { tenantId: T, serviceUrl: SERVICE, teamId: TEAM, targetKey: `_${T}_${TEAM}`, newThreadInChannel: TEAM, name: "Operations" } },
  { recipientKey: `graph:${T}:aad-9`, recipient: { tenantId: T, serviceUrl: SERVICE, aadObjectId: "aad-9", conversationId: "a:9" } },
];

async function sentJob(store: MemoryStore, id: string): Promise<Job> {
  const { job } = await store.jobs.createJob({
    id, status: "running", content: { title: `Title ${id}`, text: "x", url: "https://example.com/x" }, audience: { kind: "all" },
    category: "ops", triggeredBy: "CI", createdAt: "2026-06-01T08:00:00.000Z",
  }, RECIPIENTS);
  for (const r of RECIPIENTS) await store.jobs.updateDelivery(id, r.recipientKey, { status: "sent", activityId: "1" });
  return job;
}

const counts = (sent: number): DeliveryCounts => ({ total: sent, sent, pending: 0, sending: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 });

describe("inbox recorder", () => {
  let store: MemoryStore;
  beforeEach(async () => {
    store = new MemoryStore();
    await seed(store);
  });

  const inboxOf = async (person: string) => (await store.inbox.list(T, person, 100)).items.map((e) => `${e.jobId} ${e.place.kind}${e.place.name ? ` ${e.place.name}` : ""}`);

  it("records a 1:1 for its person, a group chat and a channel post for every member, a Graph install by object id", async () => {
    const recorder = new InboxRecorder({ store, logger: silentLogger(), flushDelayMs: 1 });
    const job = await sentJob(store, "job-1");
    for (const r of RECIPIENTS) recorder.onSettled({ job, delivery: (await store.jobs.getDelivery("job-1", r.recipientKey))! });
    recorder.onSettled({ job, delivery: { ...(await store.jobs.getDelivery("job-1", RECIPIENTS[0]!.recipientKey))!, status: "skipped" } });
    await recorder.idle();
    assert.deepEqual((await inboxOf("aad-1")).sort(), ["job-1 channel Operations", "job-1 groupChat Release crew", "job-1 personal"]);
    assert.deepEqual((await inboxOf("aad-3")).sort(), ["job-1 channel Operations"], "in the team, not in the chat");
    assert.deepEqual(await inboxOf("29:u4"), ["job-1 personal"], "no object id known: the Teams user id");
    assert.deepEqual(await inboxOf("aad-9"), ["job-1 personal"]);
    const [entry] = (await store.inbox.list(T, "aad-1", 100)).items.filter((e) => e.placeKey === "personal");
    assert.deepEqual({ title: entry!.title, url: entry!.url, category: entry!.category, sentAt: entry!.sentAt, triggeredBy: entry!.triggeredBy },
      { title: "Title job-1", url: "https://example.com/x", category: "ops", sentAt: "2026-06-01T08:00:00.000Z", triggeredBy: "CI" });
    assert.deepEqual(await store.inbox.categories(T, "aad-2"), ["ops"]);
  });

  it("writes deliveries in batches, not one write each", async () => {
    const record = sinon.spy(store.inbox, "record");
    const recorder = new InboxRecorder({ store, logger: silentLogger(), flushDelayMs: 50 });
    const job = await sentJob(store, "job-2");
    const delivery = (await store.jobs.getDelivery("job-2", RECIPIENTS[0]!.recipientKey))!;
    for (let i = 0; i < 100; i++) recorder.onSettled({ job, delivery });
    await recorder.idle();
    assert.equal(record.callCount, 1);
  });

  it("a job that ends with deliveries this process did not record is read back from the store (restart, another instance)", async () => {
    const recorder = new InboxRecorder({ store, logger: silentLogger(), flushDelayMs: 1 });
    const job = await sentJob(store, "job-3");
    recorder.onJobFinished({ job, status: "completed", counts: counts(RECIPIENTS.length), durationMs: 1 });
    await recorder.idle();
    assert.deepEqual((await inboxOf("aad-2")).sort(), ["job-3 channel Operations", "job-3 groupChat Release crew"]);
    assert.deepEqual((await inboxOf("aad-1")).sort(), ["job-3 channel Operations", "job-3 groupChat Release crew", "job-3 personal"]);
  });

  it("does not read the job back when it recorded every sent delivery itself", async () => {
    const recorder = new InboxRecorder({ store, logger: silentLogger(), flushDelayMs: 1 });
    const job = await sentJob(store, "job-4");
    const sweep = sinon.spy(store.jobs, "listDeliveriesByStatus");
    for (const r of RECIPIENTS) recorder.onSettled({ job, delivery: (await store.jobs.getDelivery("job-4", r.recipientKey))! });
    recorder.onJobFinished({ job, status: "completed", counts: counts(RECIPIENTS.length), durationMs: 1 });
    await recorder.idle();
    assert.equal(sweep.callCount, 0);
  });

  it("when writing fails, the job's end writes what was lost", async () => {
    const recorder = new InboxRecorder({ store, logger: silentLogger(), flushDelayMs: 1, retryDelayMs: 1 });
    const job = await sentJob(store, "job-5");
    const real = store.inbox.record.bind(store.inbox);
    let failures = 3; // every attempt of the first write
    sinon.stub(store.inbox, "record").callsFake(async (entries) => {
      if (failures-- > 0) throw new Error("storage unavailable");
      return real(entries);
    });
    recorder.onSettled({ job, delivery: (await store.jobs.getDelivery("job-5", RECIPIENTS[0]!.recipientKey))! });
    recorder.onJobFinished({ job, status: "completed", counts: counts(1), durationMs: 1 });
    await recorder.idle();
    assert.ok((await inboxOf("aad-1")).includes("job-5 personal"));
  });
});
