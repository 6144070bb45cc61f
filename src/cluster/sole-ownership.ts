/**
 * One process owns every partition: the in-memory store, and SQLite (one file, one process: the engine lock
 * keeps a second Herald from running an engine on the same file).
 */
import os from "node:os";
import type { ClusterView, OwnershipListener, PartitionOwnership } from "./ownership";

export interface EngineLock {
  release(): void;
}

export class SoleOwnership implements PartitionOwnership {
  readonly shared = false;
  private readonly startedAt = new Date().toISOString();
  private running = false;
  private lock?: EngineLock;

  constructor(
    readonly instanceId: string,
    readonly partitionCount: number,
    private readonly options: { acquireLock?: () => EngineLock; sendRate?: () => number } = {},
  ) {}

  async start(listener: OwnershipListener): Promise<void> {
    this.lock = this.options.acquireLock?.();
    this.running = true;
    for (let p = 0; p < this.partitionCount; p++) listener.acquired(p);
  }

  /** Every partition, whatever the count a job was written with. */
  owns(): boolean {
    return this.running;
  }

  owned(): number[] {
    return this.running ? Array.from({ length: this.partitionCount }, (_, p) => p) : [];
  }

  async cluster(): Promise<ClusterView> {
    return {
      partitionCount: this.partitionCount,
      mode: "sole",
      self: this.instanceId,
      instances: [{
        id: this.instanceId, host: os.hostname(), pid: process.pid, startedAt: this.startedAt, state: this.running ? "running" : "stopping",
        partitions: this.owned(), sendRatePerSec: this.options.sendRate?.() ?? 0, heartbeatAgeMs: 0,
      }],
      unowned: [],
    };
  }

  async stop(): Promise<void> {
    this.running = false;
    this.lock?.release();
    this.lock = undefined;
  }
}
