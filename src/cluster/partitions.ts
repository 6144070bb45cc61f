/**
 * Delivery partitions: every tenant maps to one of P partitions by a stable hash of its id, and only the owner
 * of a partition sends to that tenant. So one tenant's 50 requests/s and every per-thread window are spent by
 * one process, and the engine's limiter stays exact without a global token bucket.
 *
 * P is fixed for a store (recorded where the instances coordinate; see lease-ownership.ts): changing it would
 * move tenants between owners while jobs are running.
 */
import type { DeliveryInput, JobSlice } from "../store/types";

export const DEFAULT_PARTITION_COUNT = 32;
export const MAX_PARTITION_COUNT = 1024;

/** FNV-1a, 32 bits: stable across processes, versions and platforms (unlike a seeded or built-in hash). */
function fnv1a(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function partitionOf(tenantId: string, partitionCount: number): number {
  return fnv1a(tenantId.toLowerCase()) % partitionCount;
}

/**
 * Orders a job's deliveries by partition (stable: each partition keeps the audience's order) after dropping
 * repeated recipients (the first occurrence wins), and returns the slices that cover them.
 */
export function groupByPartition(deliveries: DeliveryInput[], partitionCount: number): { deliveries: DeliveryInput[]; slices: JobSlice[] } {
  const seen = new Set<string>();
  const byPartition = new Map<number, DeliveryInput[]>();
  for (const d of deliveries) {
    if (seen.has(d.recipientKey)) continue;
    seen.add(d.recipientKey);
    const partition = partitionOf(d.recipient.tenantId, partitionCount);
    let list = byPartition.get(partition);
    if (!list) byPartition.set(partition, (list = []));
    list.push(d);
  }
  const ordered: DeliveryInput[] = [];
  const slices: JobSlice[] = [];
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    const list = byPartition.get(partition)!;
    slices.push({ partition, firstSeq: ordered.length, count: list.length });
    ordered.push(...list);
  }
  return { deliveries: ordered, slices };
}

/** The slices a store assumes for deliveries written without any: one, in partition 0. */
export function defaultSlices(count: number): JobSlice[] {
  return count > 0 ? [{ partition: 0, firstSeq: 0, count }] : [];
}

/** Checks that slices tile [0, total) in order; a store refuses anything else. */
export function checkSlices(slices: JobSlice[], total: number): void {
  let next = 0;
  for (const s of slices) {
    if (s.firstSeq !== next || s.count < 1 || !Number.isInteger(s.partition) || s.partition < 0) {
      throw new Error(`job slices must tile the deliveries in order (slice at ${s.firstSeq}, expected ${next})`);
    }
    next += s.count;
  }
  if (next !== total) throw new Error(`job slices cover ${next} deliveries, the job has ${total}`);
}
