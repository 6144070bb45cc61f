/** Opaque cursors and limits for the in-memory store. */

export function encodeCursor(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  return Buffer.from(cursor, "base64url").toString("utf8");
}

/** The port says 1..1000 for target pages; out-of-range values are clamped rather than rejected. */
export function clampLimit(limit: number, max = 1000): number {
  if (!Number.isFinite(limit)) return max;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

export function nowIso(): string {
  return new Date().toISOString();
}

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
