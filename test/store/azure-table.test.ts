/**
 * The Azure Table backend against a private Azurite: the shared contract plus what is specific to Table
 * Storage (key encoding, races on ETags, batches, error hygiene).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import sinon from "sinon";
import { silentLogger } from "../../src/logger";
import { openAzureTableStore, tableNames } from "../../src/store/azure-table";
import { DeliveryTable } from "../../src/store/azure-table/delivery-table";
import { compositeKey, decodeKey, encodeKey, prefixUpperBound } from "../../src/store/azure-table/keys";
import { StoreUnreadableError, targetKey, type DeliveryInput, type HeraldStore } from "../../src/store/types";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { describeStoreContract, targetInput } from "./contract";
import { describeInboxContract } from "./inbox-contract";

const SERVICE_URL = "https://smba.trafficmanager.net/emea/";
const uniquePrefix = () => `h${randomUUID().replace(/-/g, "").slice(0, 12)}`;
const fastRetries = { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 50 };

describe("azure-table store (Azurite)", function () {
  let azurite: AzuriteTable;

  before(async function () {
    this.timeout(60_000);
    azurite = await startAzurite();
  });

  after(async function () {
    await azurite?.stop();
  });

  describeStoreContract(
    "azure-table",
    () => openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: uniquePrefix() }, silentLogger()),
  );
  describeInboxContract(
    "azure-table",
    () => openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: uniquePrefix() }, silentLogger()),
  );

  describe("key encoding", function () {
    const samples = [
      "", "a", "_t_19:abc@thread.tacv2", "a/b", "a\\b", "a#b", "a?b", "a%b", "a'b", "tab\there", "nul\u0000",
      "del\u007f", "c1\u0085", "!", "!!", "!21", ".", "..", "~", "[x]", ">", "ünï©ødé", "日本語", "emoji 🎉", " ", "zz",
    ];

    it("round-trips and never emits a character Table Storage forbids", function () {
      for (const s of samples) {
        const encoded = encodeKey(s);
        assert.equal(decodeKey(encoded), s);
        assert.doesNotMatch(encoded, /[/\\#?\u0000-\u001f\u007f-\u009f%']/, JSON.stringify(s));
      }
    });

    it("preserves order and prefixes", function () {
      const sorted = [...samples].sort();
      assert.deepEqual(sorted.map(encodeKey), [...sorted.map(encodeKey)].sort());
      for (const a of samples) {
        for (const b of samples) assert.ok(encodeKey(a + b).startsWith(encodeKey(a)));
      }
      // Composite keys order by their parts, left to right.
      const pairs: Array<[string, string]> = [["a", "z"], ["a!", "a"], ["a", "!"], ["ab", ""], ["a", "b"], ["", "zzz"]];
      const byParts = [...pairs].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
      assert.deepEqual(
        byParts.map((p) => compositeKey(...p)),
        pairs.map((p) => compositeKey(...p)).sort(),
      );
      assert.equal(prefixUpperBound("_t_"), "_t`");
    });

    it("rejects a table prefix Table Storage would refuse", function () {
      assert.equal(tableNames("herald").memberindex, "heraldmemberindex");
      assert.equal(tableNames("").targets, "heraldtargets");
      assert.throws(() => tableNames("1abc"), /prefix/);
      assert.throws(() => tableNames("her-ald"), /prefix/);
      assert.throws(() => tableNames("x".repeat(60)), /prefix/);
    });
  });

  describe("specific to Table Storage", function () {
    let store: HeraldStore;
    let prefix: string;

    before(async function () {
      prefix = uniquePrefix();
      store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
    });

    after(async function () {
      await store?.close();
    });

    it("creates its nine tables with the prefix", async function () {
      const names = Object.values(tableNames(prefix));
      for (const name of names) {
        const client = TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true });
        // A query on a missing table fails with 404; on an empty or filled one it answers.
        const pages = client.listEntities().byPage({ maxPageSize: 1 });
        await pages.next();
      }
      assert.equal(names.length, 9);
    });

    it("keys with '/', '#', '?', '\\\\', quotes, control characters and unicode round-trip everywhere", async function () {
      const tenant = `t/${randomUUID()}#?`;
      const weird = ["19:a/b#c?d@thread.v2", "a:1\\back'slash", "a:1tab\there", "a:1ünï©ødé-日本-🎉", "a:1%41%2F"];
      for (const conversationId of weird) {
        const input = targetInput(tenant, conversationId, "personal", { name: conversationId });
        await store.targets.upsert(input);
        const stored = await store.targets.get(input.key);
        assert.equal(stored?.key, input.key);
        assert.equal(stored?.conversationId, conversationId);
      }
      const listed = await store.targets.list({ tenantId: tenant }, 100);
      assert.deepEqual(listed.items.map((t) => t.conversationId), [...weird].sort());
      assert.equal(await store.targets.count({ tenantId: tenant }), weird.length);
      // A tenant whose id is a prefix of another's does not leak into its range.
      await store.targets.upsert(targetInput(`${tenant}x`, "a:1other", "personal"));
      assert.equal(await store.targets.count({ tenantId: tenant }), weird.length);

      const source = targetKey(tenant, weird[0]!);
      const userId = "29:1/odd#user?";
      await store.members.upsertMembers(source, [{ tenantId: tenant, userId, serviceUrl: SERVICE_URL, upn: "O'Brien/x@contoso.com", aadObjectId: "aad/#?" }]);
      assert.equal((await store.members.find({ upn: "o'brien/x@CONTOSO.com" }))?.userId, userId);
      assert.equal((await store.members.find({ aadObjectId: "aad/#?" }, tenant))?.userId, userId);
      assert.deepEqual((await store.members.listBySource(source, 10)).items.map((m) => m.userId), [userId]);

      const jobId = `job/${randomUUID()}#?`;
      const recipientKeys = weird.map((c) => targetKey(tenant, c));
      await store.jobs.createJob(
        { id: jobId, idempotencyKey: `idem/${jobId}'`, status: "queued", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() },
        recipientKeys.map((recipientKey) => ({ recipientKey, recipient: { tenantId: tenant, serviceUrl: SERVICE_URL } })),
      );
      assert.equal((await store.jobs.findByIdempotencyKey(`idem/${jobId}'`))?.id, jobId);
      await store.jobs.updateDelivery(jobId, recipientKeys[2]!, { status: "sent" });
      assert.equal((await store.jobs.getDelivery(jobId, recipientKeys[2]!))?.status, "sent");
      assert.equal((await store.jobs.counts(jobId)).sent, 1);

      await store.preferences.optOut(tenant, "user/#?", "cat/'x");
      assert.equal(await store.preferences.isOptedOut(tenant, ["user/#?"], "cat/'x"), true);
      assert.equal(await store.schedules.claimSlot("sched/#?", "2026-01-01T00:00:00.000Z|America/Argentina/Buenos_Aires"), true);
      assert.equal((await store.schedules.lastSlot("sched/#?"))?.slot, "2026-01-01T00:00:00.000Z|America/Argentina/Buenos_Aires");
    });

    it("idempotency race: callers that find a claim whose job is still being written wait for it, not duplicate it", async function () {
      const tenant = randomUUID();
      const key = `race-${randomUUID()}`;
      const job = (id: string) => ({ id, idempotencyKey: key, status: "queued" as const, content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() });
      // Hold the winner between its claim and its deliveries until every other caller has looked for its job.
      let release!: () => void;
      const held = new Promise<void>((resolve) => { release = resolve; });
      const create = DeliveryTable.prototype.create;
      const stub = sinon.stub(DeliveryTable.prototype, "create").callsFake(async function (this: DeliveryTable, ...args) {
        await held;
        return create.apply(this, args);
      });
      const lookups = sinon.spy(store.jobs, "getJob");
      try {
        const racing = Promise.all(Array.from({ length: 6 }, () => store.jobs.createJob(job(randomUUID()), deliveries(tenant, 50))));
        while (lookups.callCount < 5) await new Promise((r) => setTimeout(r, 10));
        assert.equal(stub.callCount, 1, "only the claim owner writes deliveries");
        assert.equal(await store.jobs.findByIdempotencyKey(key), undefined, "a claimed key without its job finds nothing yet");
        release();
        const results = await racing;
        const winners = results.filter((r) => r.created);
        assert.equal(winners.length, 1);
        for (const r of results) {
          assert.equal(r.job.id, winners[0]!.job.id);
          assert.equal(r.job.total, 50, "the waiting callers got the complete job");
        }
        assert.equal(stub.callCount, 1);
        assert.equal((await store.jobs.counts(winners[0]!.job.id)).pending, 50);
      } finally {
        release();
        stub.restore();
        lookups.restore();
      }
    });

    it("idempotency: a claim left by a writer that died is taken over after the takeover delay", async function () {
      const quick = await openAzureTableStore(
        { connectionString: azurite.connectionString, tablePrefix: prefix, jobs: { idempotencyTakeoverMs: 300, idempotencyPollMs: 20 } },
        silentLogger(),
      );
      const key = `orphan-${randomUUID()}`;
      const jobs = TableClient.fromConnectionString(azurite.connectionString, tableNames(prefix).jobs, { allowInsecureConnection: true });
      await jobs.createEntity({ partitionKey: "idem", rowKey: encodeKey(key), jobId: "never-written", claimedAt: new Date().toISOString() });
      const id = randomUUID();
      const { job, created } = await quick.jobs.createJob(
        { id, idempotencyKey: key, status: "queued", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() }, [],
      );
      assert.equal(created, true);
      assert.equal(job.id, id);
      assert.equal((await store.jobs.findByIdempotencyKey(key))?.id, id);
    });

    it("counters stay exact under 200 concurrent updateDelivery calls (and a concurrent transitionAll)", async function () {
      this.timeout(60_000);
      const tenant = randomUUID();
      const id = randomUUID();
      const ds = deliveries(tenant, 400);
      await store.jobs.createJob({ id, status: "running", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() }, ds);
      const statuses = ["sending", "sent", "failed", "gone"] as const;
      // 200 calls on 100 deliveries (two racing writers per delivery) + cancel of everything else still pending.
      const updates = Array.from({ length: 200 }, (_, i) =>
        store.jobs.updateDelivery(id, ds[i % 100]!.recipientKey, { status: statuses[i % 4]!, attemptsIncrement: 1 }));
      const [moved] = await Promise.all([store.jobs.transitionAll(id, "pending", "cancelled", "cancelled"), ...updates]);

      // Ground truth: scan every delivery.
      const actual: Record<string, number> = {};
      let cursor: string | undefined;
      do {
        const page = await store.jobs.listDeliveries(id, 1000, cursor);
        for (const d of page.items) actual[d.status] = (actual[d.status] ?? 0) + 1;
        cursor = page.cursor;
      } while (cursor);
      const counts = await store.jobs.counts(id);
      assert.equal(counts.total, 400);
      for (const s of ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"] as const) {
        assert.equal(counts[s], actual[s] ?? 0, `${s}: counter ${counts[s]} vs ${actual[s] ?? 0} stored`);
      }
      // Deliveries 100..399 only ever move pending → cancelled; among the first 100 an update may land after the
      // cancel and move one on again, so transitionAll may report more than stay cancelled — never fewer.
      assert.ok(counts.cancelled >= 300 && counts.cancelled <= moved, `cancelled ${counts.cancelled}, moved ${moved}`);
      let attempts = 0;
      for (const d of ds.slice(0, 100)) attempts += (await store.jobs.getDelivery(id, d.recipientKey))!.attempts;
      assert.equal(attempts, 200, "no increment lost");
    });

    it("an update is never lost to a cache cleared by a concurrent transitionAll on another range (no false 'no such delivery')", async function () {
      this.timeout(60_000);
      const tenant = randomUUID();
      const id = randomUUID();
      const ds = deliveries(tenant, 300);
      await store.jobs.createJob({ id, status: "running", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() }, ds);
      // Half of the first 100 claimed (their rows cached with ETags), half not (read before their write): a commit
      // mixes both, and a transitionAll elsewhere in the job clears the cache while the reads are on the wire.
      await store.jobs.listDeliveriesByStatus(id, ["pending"], 50);
      let done = false;
      const updates = Promise.all(ds.slice(0, 100).map((d) => store.jobs.updateDelivery(id, d.recipientKey, { status: "sent" })))
        .finally(() => { done = true; });
      const clearing = (async () => {
        while (!done) await store.jobs.transitionAll(id, "failed", "cancelled", undefined, { from: 200, to: 300 });
      })();
      const results = await updates;
      await clearing;
      assert.equal(results.filter((changed) => !changed).length, 0, "every update found its delivery");
      assert.equal((await store.jobs.counts(id)).sent, 100);
    });

    it("counters stay exact when two processes' writers commit to the same delivery partitions at once", async function () {
      this.timeout(60_000);
      const other = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
      try {
        const id = randomUUID();
        const ds = deliveries(randomUUID(), 300);
        await store.jobs.createJob({ id, status: "running", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() }, ds);
        // Each writer claims (reads) everything first, as an engine does, so both write blind with cached ETags.
        await store.jobs.listDeliveriesByStatus(id, ["pending"], 1000);
        await other.jobs.listDeliveriesByStatus(id, ["pending"], 1000);
        const results = await Promise.all(ds.flatMap((d, i) => [
          store.jobs.updateDelivery(id, d.recipientKey, { status: "sending", attemptsIncrement: 1 }, "pending"),
          other.jobs.updateDelivery(id, d.recipientKey, { status: i % 2 ? "cancelled" : "sending", attemptsIncrement: 1 }, "pending"),
        ]));
        // Exactly one of the two check-and-sets won for each delivery, whoever committed first.
        for (let i = 0; i < ds.length; i++) assert.equal(Number(results[2 * i]) + Number(results[2 * i + 1]), 1, `delivery ${i}`);
        const counts = await other.jobs.counts(id);
        const stored: Record<string, number> = {};
        for (const d of (await store.jobs.listDeliveries(id, 1000)).items) stored[d.status] = (stored[d.status] ?? 0) + 1;
        assert.equal(counts.pending, 0);
        assert.equal(counts.sending, stored.sending ?? 0);
        assert.equal(counts.cancelled, stored.cancelled ?? 0);
        assert.equal(counts.total, 300);
      } finally {
        await other.close();
      }
    });

    it("opt-outs stored before the tenant index existed are found by optedOutAmong", async function () {
      const tenant = randomUUID();
      const user = randomUUID();
      const raw = TableClient.fromConnectionString(azurite.connectionString, tableNames(prefix).prefs, { allowInsecureConnection: true });
      await raw.deleteEntity("index", "v1").catch(() => undefined);
      await raw.createEntity({ partitionKey: compositeKey(tenant, user), rowKey: encodeKey("*"), tenantId: tenant, userKey: user, category: "*", at: new Date().toISOString() });
      const fresh = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: prefix }, silentLogger());
      try {
        assert.deepEqual([...(await fresh.preferences.optedOutAmong(tenant, [user, randomUUID()], "news"))], [user]);
      } finally {
        await fresh.close();
      }
    });

    it("stores a notification whose card data is larger than one 64 KiB property", async function () {
      const id = randomUUID();
      const big = "x".repeat(100_000);
      await store.jobs.createJob({ id, status: "queued", content: { title: "t", text: big, card: { template: "t", data: { big } } }, audience: {}, triggeredBy: "api", createdAt: new Date().toISOString() }, []);
      const job = await store.jobs.getJob(id);
      assert.equal(job?.content.text.length, 100_000);
      assert.equal((job?.content.card?.data.big as string).length, 100_000);
    });
  });

  describe("opening", function () {
    it("a wrong account key: StoreUnreadableError that names the endpoint and not the key", async function () {
      const key = Buffer.from(`not-the-key-${randomUUID()}`).toString("base64");
      const bad = azurite.connectionString.replace(/AccountKey=[^;]*/, `AccountKey=${key}`);
      const error = await openAzureTableStore({ connectionString: bad, tablePrefix: uniquePrefix(), retryOptions: fastRetries }, silentLogger())
        .then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof StoreUnreadableError, String(error));
      assert.match(error.message, /127\.0\.0\.1/);
      assert.match(error.message, /403/);
      assert.ok(!error.message.includes(key), error.message);
      assert.ok(!error.message.includes(key.slice(0, 16)), error.message);
    });

    it("a malformed connection string: a clear error without its secret", async function () {
      const secret = Buffer.from(`secret-${randomUUID()}`).toString("base64");
      const error = await openAzureTableStore({ connectionString: `AccountKey=${secret};nonsense`, tablePrefix: "herald" }, silentLogger())
        .then(() => undefined, (e: unknown) => e as Error);
      assert.ok(error instanceof Error);
      assert.match(error.message, /connection string/);
      assert.ok(!error.message.includes(secret), error.message);
    });

    it("an endpoint nobody listens on: StoreUnreadableError; ping throws once the service went away", async function () {
      const own = await startAzurite();
      try {
        const store = await openAzureTableStore({ connectionString: own.connectionString, tablePrefix: uniquePrefix(), retryOptions: fastRetries }, silentLogger());
        await store.ping();
        await own.stop();
        await assert.rejects(store.ping(), (e: Error) => /does not answer/.test(e.message) && !/AccountKey/i.test(e.message));
        const error = await openAzureTableStore({ connectionString: own.connectionString, tablePrefix: uniquePrefix(), retryOptions: fastRetries }, silentLogger())
          .then(() => undefined, (e: unknown) => e);
        assert.ok(error instanceof StoreUnreadableError, String(error));
        assert.ok(!/AccountKey/i.test(error.message), error.message);
      } finally {
        await own.stop();
      }
    });
  });
});

function deliveries(tenantId: string, n: number): DeliveryInput[] {
  return Array.from({ length: n }, (_, i) => {
    const conversationId = `a:1c-${i}`;
    const recipientKey = targetKey(tenantId, conversationId);
    return { recipientKey, recipient: { tenantId, serviceUrl: SERVICE_URL, conversationId, targetKey: recipientKey } };
  });
}
