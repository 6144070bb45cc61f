import assert from "node:assert/strict";
import { planBalance, quotaOf } from "../../src/cluster/balance";
import { groupByPartition, partitionOf } from "../../src/cluster/partitions";
import type { DeliveryInput } from "../../src/store/types";

/** Every instance applies the plan to the same picture, round after round, like LeaseOwnership's ticks. */
function simulate(ids: string[], partitionCount: number, start: Map<string, number[]>, rounds = 10): Map<string, number[]> {
  const owned = new Map(ids.map((id) => [id, [...(start.get(id) ?? [])]]));
  for (let round = 0; round < rounds; round++) {
    const picture = ids.map((id) => ({ id, partitions: [...owned.get(id)!] }));
    const plans = ids.map((id) => [id, planBalance({ self: id, partitionCount, instances: picture })] as const);
    for (const [id, plan] of plans) owned.set(id, owned.get(id)!.filter((p) => !plan.release.includes(p)));
    // Acquiring is a lease: the first to ask gets it, a second gets 409.
    const taken = new Set([...owned.values()].flat());
    for (const [id, plan] of plans) {
      for (const p of plan.acquire) if (!taken.has(p)) { taken.add(p); owned.get(id)!.push(p); }
    }
  }
  return owned;
}

describe("cluster/balance: the rule each instance applies", () => {
  it("gives each of N instances P/N partitions, the first P mod N one more, whatever the id order", () => {
    const ids = ["c", "a", "b"];
    assert.deepEqual(ids.map((id) => quotaOf(ids, 32, id)), [10, 11, 11]);
    assert.equal(quotaOf(["solo"], 32, "solo"), 32);
    assert.equal([1, 2, 3, 5, 7, 33].every((n) => {
      const many = Array.from({ length: n }, (_, i) => `i${i}`);
      return many.reduce((sum, id) => sum + quotaOf(many, 32, id), 0) === 32;
    }), true);
  });

  it("a newcomer gets its share: the full instance releases the excess, the newcomer takes it", () => {
    const all = Array.from({ length: 32 }, (_, p) => p);
    const owned = simulate(["old", "new"], 32, new Map([["old", all]]));
    assert.deepEqual([owned.get("old")!.length, owned.get("new")!.length], [16, 16]);
    assert.deepEqual([...owned.values()].flat().sort((a, b) => a - b), all, "every partition owned exactly once");
  });

  it("an instance never releases while nobody is below quota, and never takes a claimed partition", () => {
    const plan = planBalance({ self: "a", partitionCount: 4, instances: [{ id: "a", partitions: [0, 1, 2] }, { id: "b", partitions: [3] }] });
    // a's quota is 2, b's is 2: b wants one, so a gives one up.
    assert.deepEqual(plan, { quota: 2, acquire: [], release: [2] });
    const settled = planBalance({ self: "b", partitionCount: 4, instances: [{ id: "a", partitions: [0, 1] }, { id: "b", partitions: [3] }] });
    assert.deepEqual(settled.acquire, [2]);
    const full = planBalance({ self: "a", partitionCount: 4, instances: [{ id: "a", partitions: [0, 1, 2, 3] }, { id: "b", partitions: [] }].slice(0, 1) });
    assert.deepEqual(full, { quota: 4, acquire: [], release: [] });
  });

  it("the partitions of an instance that left are shared among the others", () => {
    const owned = simulate(["a", "b"], 32, new Map([["a", Array.from({ length: 11 }, (_, p) => p)], ["b", Array.from({ length: 11 }, (_, p) => p + 11)]]));
    assert.deepEqual([owned.get("a")!.length, owned.get("b")!.length], [16, 16]);
    assert.equal(new Set([...owned.values()].flat()).size, 32);
  });

  it("takes orphans (unclaimed for several rounds while everyone is at quota) on the neediest instance only", () => {
    const instances = [{ id: "a", partitions: [0, 1] }, { id: "b", partitions: [2] }];
    const freeRounds = new Map([[3, 3]]);
    // b's view says quota 2 for a and 1 for... with P=4, N=2 both quotas are 2: b would take 3 anyway.
    assert.deepEqual(planBalance({ self: "b", partitionCount: 4, instances, freeRounds }).acquire, [3]);
    // With quotas met everywhere (P=4 but a claims 3 by a stale view), the neediest (b) takes the orphan.
    const stale = [{ id: "a", partitions: [0, 1, 2] }, { id: "b", partitions: [] as number[] }];
    assert.deepEqual(planBalance({ self: "a", partitionCount: 5, instances: stale, freeRounds: new Map([[4, 3]]) }).acquire, []);
    assert.ok(planBalance({ self: "b", partitionCount: 5, instances: stale, freeRounds: new Map([[4, 3]]) }).acquire.includes(4));
  });
});

describe("cluster/partitions", () => {
  it("maps a tenant to the same partition everywhere, case-insensitively", () => {
    assert.equal(partitionOf("72f988bf-86f1-41af-91ab-2d7cd011db47", 32), partitionOf("72F988BF-86F1-41AF-91AB-2D7CD011DB47", 32));
    const spread = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`tenant-${i}`, 32)));
    assert.ok(spread.size > 24, `200 tenants fall in ${spread.size} of 32 partitions`);
  });

  it("groups a job's deliveries by partition, keeping the audience order inside each and dropping repeats", () => {
    const d = (tenantId: string, key: string): DeliveryInput => ({ recipientKey: key, recipient: { tenantId, serviceUrl: "https://x/" } });
    const input = [d("t1", "a"), d("t2", "b"), d("t1", "c"), d("t1", "a"), d("t2", "d")];
    const { deliveries, slices } = groupByPartition(input, 32);
    assert.deepEqual(deliveries.map((x) => x.recipientKey).sort(), ["a", "b", "c", "d"]);
    for (const slice of slices) {
      const keys = deliveries.slice(slice.firstSeq, slice.firstSeq + slice.count);
      assert.ok(keys.every((x) => partitionOf(x.recipient.tenantId, 32) === slice.partition));
    }
    const t1 = deliveries.filter((x) => x.recipient.tenantId === "t1").map((x) => x.recipientKey);
    assert.deepEqual(t1, ["a", "c"]);
    assert.equal(slices.reduce((n, s) => n + s.count, 0), 4);
  });
});
