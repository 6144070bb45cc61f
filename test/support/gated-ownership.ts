/**
 * An ownership that owns nothing until the test opens it: a Herald that answers the API but is not (yet) the owner
 * of any delivery partition — what an API instance is while the partitions' owners are elsewhere.
 */
import type { ClusterView, OwnershipListener, PartitionOwnership } from "../../src/cluster/ownership";

export class GatedOwnership implements PartitionOwnership {
  readonly instanceId = "gated";
  readonly shared = true;
  private listener?: OwnershipListener;
  private opened = false;

  constructor(readonly partitionCount = 32) {}

  async start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
  }

  owns(): boolean {
    return this.opened;
  }

  owned(): number[] {
    return this.opened ? Array.from({ length: this.partitionCount }, (_, p) => p) : [];
  }

  /** Become the owner of every partition. */
  open(): void {
    this.opened = true;
    for (let p = 0; p < this.partitionCount; p++) this.listener?.acquired(p);
  }

  async cluster(): Promise<ClusterView> {
    return { partitionCount: this.partitionCount, mode: "sole", self: this.instanceId, instances: [], unowned: this.opened ? [] : this.owned() };
  }

  async stop(): Promise<void> {
    this.opened = false;
  }
}
