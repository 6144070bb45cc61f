import type { WorkItem, WorkStore } from "../types";
import { copy, nowIso } from "./paging";

export class MemoryWorkStore implements WorkStore {
  private readonly items = new Map<string, WorkItem>();

  async put(item: Omit<WorkItem, "createdAt"> & { createdAt?: string }): Promise<void> {
    this.putSync(item);
  }

  /** For createJob, which writes its work items in the same synchronous step as the job. */
  putSync(item: Omit<WorkItem, "createdAt"> & { createdAt?: string }): void {
    this.items.set(keyOf(item), copy({ ...item, createdAt: item.createdAt ?? nowIso() }));
  }

  async list(partitions?: readonly number[]): Promise<WorkItem[]> {
    const wanted = partitions && new Set(partitions);
    return [...this.items.values()]
      .filter((item) => !wanted || wanted.has(item.partition))
      .sort((a, b) => a.partition - b.partition || (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
      .map(copy);
  }

  async remove(partition: number, kind: WorkItem["kind"], id: string): Promise<boolean> {
    return this.items.delete(keyOf({ partition, kind, id }));
  }
}

const keyOf = (item: Pick<WorkItem, "partition" | "kind" | "id">) => `${item.partition}\0${item.kind}\0${item.id}`;
