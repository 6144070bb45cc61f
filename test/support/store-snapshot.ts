/**
 * Everything a MemoryStore holds — rows and indexes — as one string, so a test can say "this request changed
 * nothing" without trusting the store's own query methods to look everywhere.
 */
import type { MemoryStore } from "../../src/store/memory";
import { SortedKeys } from "../../src/store/memory/sorted-keys";

export function snapshotMemoryStore(store: MemoryStore): string {
  return JSON.stringify(store, (_key, value: unknown) => {
    if (value instanceof Map) return { map: [...value.entries()] };
    if (value instanceof Set) return { set: [...value.values()] };
    // A lazily sorted index: its live keys in order (re-sorting on read is not a change).
    if (value instanceof SortedKeys) return { sorted: [...value.ascending()] };
    return value;
  });
}
