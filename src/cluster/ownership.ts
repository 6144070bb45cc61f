/**
 * Who may send for which delivery partition. The engine asks `owns(p)` before every claim chunk and every
 * request, and is told when a partition arrives, must be handed over, or was lost.
 *
 * Two implementations: SoleOwnership (one process owns everything: the in-memory store, and SQLite, which it
 * guards with an OS-level file lock) and LeaseOwnership (several instances on one Azure Storage account, each
 * partition owned through a blob lease).
 */

export interface OwnershipListener {
  /** The partition is ours now: resume its work. */
  acquired(partition: number): void;
  /**
   * We are handing the partition over (rebalance or shutdown): stop claiming, drop what is queued, and resolve
   * once nothing of it is in flight. The lease is released right after.
   */
  releasing(partition: number): Promise<void>;
  /** The lease is gone (it expired or could not be renewed): stop at once; in-flight requests finish. */
  lost(partition: number): void;
}

export interface InstanceView {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  state: "running" | "stopping";
  partitions: number[];
  /** Bot Connector requests per second over the last few seconds. */
  sendRatePerSec: number;
  /** How long since this instance's heartbeat last changed, as seen from the instance answering. */
  heartbeatAgeMs: number;
}

export interface ClusterView {
  partitionCount: number;
  /** "sole": one process; "leases": blob leases on the shared storage account. */
  mode: "sole" | "leases";
  self: string;
  instances: InstanceView[];
  /** Partitions no live instance claims (briefly, during a handover). */
  unowned: number[];
}

export interface PartitionOwnership {
  readonly instanceId: string;
  readonly partitionCount: number;
  /** True when other instances may share the work (the engine then only polls its own partitions). */
  readonly shared: boolean;
  start(listener: OwnershipListener): Promise<void>;
  /** In memory, cheap: true while this instance holds a valid lease on the partition. */
  owns(partition: number): boolean;
  owned(): number[];
  cluster(): Promise<ClusterView>;
  /** Hand every partition over (listener.releasing for each, then release) and leave the cluster. */
  stop(): Promise<void>;
}
