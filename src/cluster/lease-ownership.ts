/**
 * Several Herald instances on one Azure Storage account share the delivery partitions the way Durable Functions'
 * partition manager and Event Hubs' processor do: each partition is a blob, and owning it means holding the
 * blob's lease. Instances announce themselves with a heartbeat row, and every instance applies the same
 * balancing rule (balance.ts) to what it reads, once per tick.
 *
 * Fencing: a lease is valid here until (start of the last successful acquire/renew request + lease duration −
 * safety margin). The service cannot hand the lease to anyone else before start + duration, so `owns(p)` turns
 * false before another instance can hold p, whatever happens to this process (a long pause, storage
 * unreachable); only requests already in flight can overlap. docs/delivery.md, "Several instances".
 */
import os from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "../logger";
import { planBalance } from "./balance";
import type { ClusterView, InstanceView, OwnershipListener, PartitionOwnership } from "./ownership";

/** The blob leases, one per partition. */
export interface LeaseStore {
  /** Creates the lease blobs when missing; records the partition count the first time and refuses another later. */
  prepare(partitionCount: number): Promise<void>;
  /** False when another holder has the lease. */
  acquire(partition: number, leaseId: string, seconds: number): Promise<boolean>;
  /** "lost" when the lease is no longer ours; throws when the service could not be asked. */
  renew(partition: number, leaseId: string): Promise<"renewed" | "lost">;
  release(partition: number, leaseId: string): Promise<void>;
}

export interface InstanceRecord {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  state: "running" | "stopping";
  partitions: number[];
  sendRatePerSec: number;
  /** Incremented by every heartbeat: liveness is judged by change, on the observer's own clock (no clock skew). */
  seq: number;
}

/** The heartbeat rows. */
export interface InstanceRegistry {
  put(record: InstanceRecord): Promise<void>;
  list(): Promise<InstanceRecord[]>;
  remove(id: string): Promise<void>;
}

export interface LeaseOwnershipOptions {
  instanceId: string;
  partitionCount: number;
  leases: LeaseStore;
  registry: InstanceRegistry;
  logger: Logger;
  /** 15..60 (the service's range). Default 15. */
  leaseSeconds?: number;
  /** Balancing period: heartbeat, read the others, renew, acquire/release. Default 1000 ms. */
  tickMs?: number;
  /** An instance whose heartbeat has not changed for this long is considered gone. Default 5 × tick. */
  heartbeatTtlMs?: number;
  /** Stop using a lease this long before it could expire. Default 2000 ms. */
  safetyMs?: number;
  /** Renew a lease once this much of it has elapsed. Default half the lease. */
  renewAfterMs?: number;
  /** Bot Connector requests per second of this instance, for the heartbeat. */
  sendRate?: () => number;
  clock?: () => number;
}

interface Held {
  /** Local deadline for using the lease (see the file comment). */
  validUntil: number;
  renewedAt: number;
}

export class LeaseOwnership implements PartitionOwnership {
  readonly shared = true;
  readonly instanceId: string;
  readonly partitionCount: number;
  private readonly leaseId = randomUUID();
  private readonly leaseMs: number;
  private readonly tickMs: number;
  private readonly ttlMs: number;
  private readonly safetyMs: number;
  private readonly renewAfterMs: number;
  private readonly clock: () => number;
  private readonly startedAt = new Date().toISOString();
  private readonly held = new Map<number, Held>();
  private readonly releasing = new Set<number>();
  private readonly acquiring = new Set<number>();
  private readonly seen = new Map<string, { seq: number; changedAt: number }>();
  private readonly freeRounds = new Map<number, number>();
  private records: InstanceRecord[] = [];
  private listener?: OwnershipListener;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private seq = 0;
  private stopping = false;

  constructor(private readonly options: LeaseOwnershipOptions) {
    this.instanceId = options.instanceId;
    this.partitionCount = options.partitionCount;
    const leaseSeconds = options.leaseSeconds ?? 15;
    if (leaseSeconds < 15 || leaseSeconds > 60) throw new Error("a blob lease lasts 15 to 60 seconds");
    this.leaseMs = leaseSeconds * 1000;
    this.tickMs = options.tickMs ?? 1000;
    this.ttlMs = options.heartbeatTtlMs ?? 5 * this.tickMs;
    this.safetyMs = options.safetyMs ?? 2000;
    this.renewAfterMs = options.renewAfterMs ?? this.leaseMs / 2;
    this.clock = options.clock ?? Date.now;
  }

  async start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    await this.options.leases.prepare(this.partitionCount);
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.tickMs);
    this.timer.unref();
  }

  owns(partition: number): boolean {
    const held = this.held.get(partition);
    return held !== undefined && this.clock() < held.validUntil;
  }

  owned(): number[] {
    return [...this.held.keys()].filter((p) => this.owns(p)).sort((a, b) => a - b);
  }

  async cluster(): Promise<ClusterView> {
    const now = this.clock();
    const records = await this.options.registry.list().catch(() => this.records);
    const live = records.filter((r) => this.isLive(r, now));
    const claimed = new Set(live.flatMap((r) => r.partitions));
    const instances: InstanceView[] = live.map((r) => ({
      id: r.id, host: r.host, pid: r.pid, startedAt: r.startedAt, state: r.state, partitions: r.partitions,
      sendRatePerSec: r.sendRatePerSec, heartbeatAgeMs: r.id === this.instanceId ? 0 : Math.max(0, now - (this.seen.get(r.id)?.changedAt ?? now)),
    }));
    return {
      partitionCount: this.partitionCount, mode: "leases", self: this.instanceId,
      instances: instances.sort((a, b) => (a.id < b.id ? -1 : 1)),
      unowned: Array.from({ length: this.partitionCount }, (_, p) => p).filter((p) => !claimed.has(p)),
    };
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.timer);
    await this.ticking;
    const partitions = [...this.held.keys()];
    await Promise.all(partitions.map((p) => this.release(p)));
    await this.options.registry.remove(this.instanceId).catch((err) =>
      this.options.logger.warn({ err: messageOf(err) }, "could not remove this instance's heartbeat; others will time it out"));
    this.options.logger.info({ instanceId: this.instanceId, released: partitions.length }, "left the cluster");
  }

  // ------------------------------------------------------------------------------------------------ tick

  private tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.round().catch((err) => {
      this.options.logger.warn({ err: messageOf(err) }, "cluster balancing round failed; retrying next tick");
    }).finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    this.expire();
    await this.renewDue();
    if (this.stopping) return;
    await this.heartbeat();
    const now = this.clock();
    this.records = await this.options.registry.list();
    const live = this.records.filter((r) => this.isLive(r, now) && r.state === "running");
    this.forgetDead(now);
    const self = { id: this.instanceId, partitions: [...this.held.keys()].filter((p) => !this.releasing.has(p)) };
    const others = live.filter((r) => r.id !== this.instanceId).map((r) => ({ id: r.id, partitions: r.partitions }));
    const instances = [self, ...others];
    this.countFreeRounds(instances);
    const plan = planBalance({ self: this.instanceId, partitionCount: this.partitionCount, instances, freeRounds: this.freeRounds });
    for (const p of plan.release) void this.release(p);
    await Promise.all(plan.acquire.filter((p) => !this.acquiring.has(p)).map((p) => this.acquire(p)));
  }

  private async heartbeat(): Promise<void> {
    try {
      await this.options.registry.put({
        id: this.instanceId, host: os.hostname(), pid: process.pid, startedAt: this.startedAt, state: this.stopping ? "stopping" : "running",
        partitions: this.owned(), sendRatePerSec: Math.round((this.options.sendRate?.() ?? 0) * 10) / 10, seq: ++this.seq,
      });
    } catch (err) {
      // Leases are renewed separately: an instance whose heartbeat fails keeps its partitions while it can renew.
      this.options.logger.warn({ err: messageOf(err) }, "could not write this instance's heartbeat");
    }
  }

  private isLive(record: InstanceRecord, now: number): boolean {
    if (record.id === this.instanceId) return true;
    const last = this.seen.get(record.id);
    if (!last || last.seq !== record.seq) {
      this.seen.set(record.id, { seq: record.seq, changedAt: now });
      return true;
    }
    return now - last.changedAt < this.ttlMs;
  }

  /** Heartbeat rows of instances gone for long are deleted, so the table holds only recent instances. */
  private forgetDead(now: number): void {
    for (const record of this.records) {
      const last = this.seen.get(record.id);
      if (record.id !== this.instanceId && last && now - last.changedAt > 20 * this.ttlMs) {
        this.seen.delete(record.id);
        void this.options.registry.remove(record.id).catch(() => undefined);
      }
    }
  }

  private countFreeRounds(instances: Array<{ partitions: number[] }>): void {
    const claimed = new Set(instances.flatMap((i) => i.partitions));
    for (let p = 0; p < this.partitionCount; p++) {
      if (claimed.has(p) || this.acquiring.has(p)) this.freeRounds.delete(p);
      else this.freeRounds.set(p, (this.freeRounds.get(p) ?? 0) + 1);
    }
  }

  // ------------------------------------------------------------------------------------------- leases

  private async acquire(partition: number): Promise<void> {
    if (this.stopping || this.held.has(partition)) return;
    this.acquiring.add(partition);
    const requestedAt = this.clock();
    try {
      if (!(await this.options.leases.acquire(partition, this.leaseId, this.leaseMs / 1000))) return;
      if (this.stopping) {
        await this.options.leases.release(partition, this.leaseId).catch(() => undefined);
        return;
      }
      this.held.set(partition, { validUntil: requestedAt + this.leaseMs - this.safetyMs, renewedAt: requestedAt });
      this.freeRounds.delete(partition);
      this.options.logger.info({ partition, instanceId: this.instanceId }, "partition acquired");
      this.listener?.acquired(partition);
    } catch (err) {
      this.options.logger.warn({ partition, err: messageOf(err) }, "could not acquire a partition lease");
    } finally {
      this.acquiring.delete(partition);
    }
  }

  private async renewDue(): Promise<void> {
    const now = this.clock();
    await Promise.all([...this.held.entries()].filter(([, h]) => now - h.renewedAt >= this.renewAfterMs).map(async ([partition, held]) => {
      const requestedAt = this.clock();
      try {
        if ((await this.options.leases.renew(partition, this.leaseId)) === "renewed") {
          if (this.held.get(partition) === held) Object.assign(held, { validUntil: requestedAt + this.leaseMs - this.safetyMs, renewedAt: requestedAt });
        } else {
          this.drop(partition, "the lease was taken or had expired");
        }
      } catch (err) {
        this.options.logger.warn({ partition, err: messageOf(err) }, "could not renew a partition lease; retrying next tick");
      }
    }));
  }

  /** Leases whose local deadline passed (renewals kept failing) are given up before anyone else can hold them. */
  private expire(): void {
    const now = this.clock();
    for (const [partition, held] of this.held) if (now >= held.validUntil) this.drop(partition, "the lease could not be renewed in time");
  }

  private drop(partition: number, why: string): void {
    if (!this.held.delete(partition)) return;
    this.options.logger.warn({ partition, instanceId: this.instanceId, why }, "partition lost");
    this.listener?.lost(partition);
  }

  private async release(partition: number): Promise<void> {
    if (this.releasing.has(partition) || !this.held.has(partition)) return;
    this.releasing.add(partition);
    try {
      await this.listener?.releasing(partition);
      this.held.delete(partition);
      await this.options.leases.release(partition, this.leaseId);
      this.options.logger.info({ partition, instanceId: this.instanceId }, "partition released");
    } catch (err) {
      this.options.logger.warn({ partition, err: messageOf(err) }, "could not release a partition lease; it will expire");
    } finally {
      this.releasing.delete(partition);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
