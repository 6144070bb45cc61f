/**
 * Counts every call that can change a HeraldStore. Herald is handed the wrapped store; a test that runs one
 * request at a time, with the engine idle in between, attributes every write to the request in flight — so
 * "this rejected request changed nothing" is checked in O(1) per request, however big the store grows.
 * Any method not known to be a read counts as a write (an unknown method can only make the check stricter).
 */
import type { HeraldStore } from "../../src/store/types";

const READS = new Set([
  "get", "list", "count", "find", "listBySource", "countBySource", "getJob", "findByIdempotencyKey", "listJobs",
  "listUnfinishedJobs", "listDeliveriesByStatus", "listDeliveries", "getDelivery", "counts", "isOptedOut", "optedOutAmong", "lastSlot",
]);
const PARTS = ["targets", "members", "jobs", "work", "preferences", "schedules"] as const;

export interface CountedStore {
  store: HeraldStore;
  writes(): number;
  /** The write methods called so far, for a failure message. */
  log(): string[];
}

export function countWrites(inner: HeraldStore): CountedStore {
  const calls: string[] = [];
  const wrap = <T extends object>(part: T, name: string): T => new Proxy(part, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function" || typeof property !== "string" || READS.has(property)) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) => {
        calls.push(`${name}.${property}`);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const store = Object.create(inner) as HeraldStore;
  for (const part of PARTS) Object.defineProperty(store, part, { value: wrap(inner[part], part) });
  Object.defineProperty(store, "ping", { value: () => inner.ping() });
  Object.defineProperty(store, "close", { value: () => inner.close() });
  return { store, writes: () => calls.length, log: () => [...calls] };
}
