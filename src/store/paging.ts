/** Page cursors, page sizes and timestamps shared by every store backend. */

/** Cursors are the last returned sort key, made opaque (callers must not build them). */
export function encodeCursor(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  return Buffer.from(cursor, "base64url").toString("utf8");
}

/** The port says 1..1000 per page; out-of-range values are clamped rather than rejected, by every backend. */
export function clampLimit(limit: number, max = 1000): number {
  if (!Number.isFinite(limit)) return max;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}

export function nowIso(): string {
  return new Date().toISOString();
}
