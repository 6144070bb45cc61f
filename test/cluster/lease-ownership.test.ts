/**
 * LeaseOwnership against Azurite's Blob and Table services: real leases, real heartbeat rows, short ticks.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { openLeaseOwnership, PartitionCountMismatchError } from "../../src/cluster/azure-coordination";
import type { LeaseOwnership } from "../../src/cluster/lease-ownership";
import type { OwnershipListener } from "../../src/cluster/ownership";
import { silentLogger } from "../../src/logger";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { eventually } from "../support/herald-fixture";

const P = 12;

class Recorder implements OwnershipListener {
  readonly events: string[] = [];
  drainMs = 0;
  acquired(p: number) { this.events.push(`+${p}`); }
  async releasing(p: number) {
    this.events.push(`~${p}`);
    await new Promise((r) => setTimeout(r, this.drainMs));
  }
  lost(p: number) { this.events.push(`!${p}`); }
}

describe("cluster/lease-ownership (Azurite blob leases + heartbeat table)", function () {
  this.timeout(90_000);
  let azurite: AzuriteTable;
  let prefix: string;
  const running: LeaseOwnership[] = [];

  before(async () => {
    azurite = await startAzurite({ blob: true });
  });
  after(async () => {
    await Promise.allSettled(running.map((o) => o.stop()));
    await azurite?.stop();
  });
  beforeEach(() => {
    prefix = `own${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  });

  async function join(id: string, listener = new Recorder(), extra: Partial<Parameters<typeof openLeaseOwnership>[0]> = {}) {
    const ownership = await openLeaseOwnership({
      connectionString: azurite.connectionString, tablePrefix: prefix, instanceId: id, partitionCount: P, tickMs: 150, ...extra,
    }, silentLogger());
    await ownership.start(listener);
    running.push(ownership);
    return { ownership, listener };
  }

  const ownedBy = (list: LeaseOwnership[]) => list.map((o) => o.owned().length);
  const disjointAndComplete = (list: LeaseOwnership[]) => {
    const all = list.flatMap((o) => o.owned());
    return all.length === P && new Set(all).size === P;
  };

  it("one instance owns every partition; three converge on 4/4/4 with each partition owned once", async () => {
    const a = await join("a");
    await eventually(() => a.ownership.owned().length === P, "a owns all");
    const b = await join("b");
    const c = await join("c");
    const trio = [a.ownership, b.ownership, c.ownership];
    await eventually(() => disjointAndComplete(trio) && ownedBy(trio).every((n) => n === 4), "balanced", 20_000);
    // Heartbeats say what each instance owns as of its last tick.
    const view = await eventually(async () => {
      const v = await b.ownership.cluster();
      return v.unowned.length === 0 && v.instances.every((i) => i.partitions.length === 4) ? v : undefined;
    }, "the heartbeats show the balance");
    assert.equal(view!.mode, "leases");
    assert.deepEqual(view!.instances.map((i) => i.id), ["a", "b", "c"]);
    // a handed partitions over gracefully: each release was preceded by `releasing` (the engine's drain).
    assert.ok(a.listener.events.filter((e) => e.startsWith("~")).length >= 8);
    assert.ok(!a.listener.events.some((e) => e.startsWith("!")), "nothing was lost");
  });

  it("stop() hands the partitions over at once (no waiting for the lease to expire)", async () => {
    const a = await join("a");
    const b = await join("b");
    await eventually(() => disjointAndComplete([a.ownership, b.ownership]) && b.ownership.owned().length === 6, "balanced");
    const started = Date.now();
    await b.ownership.stop();
    await eventually(() => a.ownership.owned().length === P, "a took everything back", 10_000);
    const handover = Date.now() - started;
    assert.ok(handover < 15_000, `handover took ${handover} ms: the leases were released, not left to expire`);
  });

  it("a dead instance's partitions are taken once its leases expire; its heartbeat is ignored after the TTL", async () => {
    const a = await join("a");
    const b = await join("b");
    await eventually(() => disjointAndComplete([a.ownership, b.ownership]) && a.ownership.owned().length === 6, "balanced");
    const taken = b.ownership.owned();
    // kill -9, as far as the cluster can tell: b stops ticking and renewing, and never releases.
    (b.ownership as unknown as { timer?: NodeJS.Timeout }).timer && clearInterval((b.ownership as unknown as { timer: NodeJS.Timeout }).timer);
    (b.ownership as unknown as { stopping: boolean }).stopping = true;
    running.splice(running.indexOf(b.ownership), 1);
    const killedAt = Date.now();
    await eventually(() => taken.every((p) => a.ownership.owns(p)), "a took b's partitions", 30_000);
    const takeover = Date.now() - killedAt;
    assert.ok(takeover >= 5_000, `took over after ${takeover} ms: not before the leases could have expired`);
    assert.ok(takeover < 15_000 + 5_000, `took over after ${takeover} ms (lease 15 s + 5 s)`);
  });

  it("fencing: an instance that cannot renew stops using its partitions before anyone else can hold them", async () => {
    const a = await join("a", new Recorder(), { safetyMs: 3000 });
    await eventually(() => a.ownership.owned().length === P, "a owns all");
    // Storage becomes unreachable for a: every lease call and heartbeat fails (as in a network partition).
    const { leases, registry } = (a.ownership as unknown as { options: { leases: Record<string, unknown>; registry: Record<string, unknown> } }).options;
    const fail = async () => { throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }); };
    leases.renew = fail;
    leases.acquire = fail;
    leases.release = fail;
    registry.put = fail;
    const cutAt = Date.now();
    await eventually(() => a.ownership.owned().length === 0, "a stopped owning", 30_000);
    const stoppedAfter = Date.now() - cutAt;
    // owns() turned false at the local deadline; the next tick tells the engine.
    await eventually(() => a.listener.events.filter((e) => e.startsWith("!")).length === P, "the engine was told each partition was lost");
    // b can only acquire once the service lets the leases expire: strictly after a stopped using them.
    const b = await join("b");
    await eventually(() => b.ownership.owned().length === P, "b owns all", 30_000);
    const bOwnedAfter = Date.now() - cutAt;
    assert.ok(stoppedAfter < bOwnedAfter, `a stopped at ${stoppedAfter} ms, b owned at ${bOwnedAfter} ms`);
  });

  it("refuses a partition count other than the one the store was set up with, naming HERALD_PARTITIONS", async () => {
    await join("a");
    const other = await openLeaseOwnership({ connectionString: azurite.connectionString, tablePrefix: prefix, instanceId: "x", partitionCount: P + 1 }, silentLogger());
    await assert.rejects(other.start(new Recorder()), (err: Error) => err instanceof PartitionCountMismatchError && /HERALD_PARTITIONS is 13 .* 12 partitions/.test(err.message));
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`${prefix}-leases`);
    assert.equal((await container.getProperties()).metadata?.partitions, String(P));
  });
});
