/** Helpers of the in-memory store; cursors and limits are shared with the other backends. */
export { clampLimit, decodeCursor, encodeCursor, nowIso } from "../paging";

/** Copies everything a caller gets back, so mutating a result never changes the stored value. */
export function copy<T>(value: T): T {
  return structuredClone(value);
}

/** Assigns only the properties whose value is not undefined (merge semantics of every upsert). */
export function assignDefined<T extends object>(target: T, patch: Partial<T>): T {
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  }
  return target;
}
