/**
 * What every backend decides the same way about one delivery: whether a conditional write's expectation holds,
 * whether a listing's filter keeps it, which counters it adds to, and how a patch changes its copy fields. Counters are derived from the row itself,
 * so a backend that moves counters with each write (memory, Azure's counter shards) only has to diff the keys of
 * the row before and after.
 */
import type { CopyCounts, CopyState, Delivery, DeliveryExpectation, DeliveryFilter, DeliveryPatch, DeliveryStatus } from "./types";

export const COPY_STATES: readonly CopyState[] = ["updating", "deleting", "deleted", "updateFailed", "deleteFailed", "gone"];

type Row = Pick<Delivery, "status" | "contentVersion" | "copy" | "acknowledgedAt" | "held">;

export function asExpectation(expect: DeliveryStatus | DeliveryExpectation | undefined): DeliveryExpectation | undefined {
  return typeof expect === "string" ? { status: expect } : expect;
}

export function matchesExpectation(d: Row, expect: DeliveryExpectation | undefined): boolean {
  if (!expect) return true;
  if (expect.status !== undefined && d.status !== expect.status) return false;
  if (expect.copy !== undefined && (d.copy ?? null) !== expect.copy) return false;
  return true;
}

export function matchesFilter(d: Row, filter: DeliveryFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.contentVersionBelow !== undefined && (d.contentVersion ?? 1) >= filter.contentVersionBelow) return false;
  if (filter.copy !== undefined && !filter.copy.includes(d.copy ?? null)) return false;
  if (filter.acknowledged !== undefined && Boolean(d.acknowledgedAt) !== filter.acknowledged) return false;
  if (filter.held !== undefined && Boolean(d.held) !== filter.held) return false;
  return true;
}

/** Counter names are valid Table Storage property names (letters, digits, underscore). */
export const ACKNOWLEDGED_COUNTER = "ack";
export const HELD_COUNTER = "held";
const VERSION_PREFIX = "v_";
const COPY_PREFIX = "copy_";

/** The counters (beyond its status) one delivery adds 1 to. */
export function counterKeys(d: Row): string[] {
  const keys: string[] = [];
  if (d.acknowledgedAt) keys.push(ACKNOWLEDGED_COUNTER);
  if (d.status === "pending" && d.held) keys.push(HELD_COUNTER);
  if (d.status === "sent") {
    keys.push(`${VERSION_PREFIX}${d.contentVersion ?? 1}`);
    if (d.copy) keys.push(`${COPY_PREFIX}${d.copy}`);
  }
  return keys;
}

/** Adds the counter moves of one row changing from `before` to `after` (either may be absent) to `delta`. */
export function addCounterDelta(delta: Record<string, number>, before: Row | undefined, after: Row | undefined): void {
  for (const key of before ? counterKeys(before) : []) delta[key] = (delta[key] ?? 0) - 1;
  for (const key of after ? counterKeys(after) : []) delta[key] = (delta[key] ?? 0) + 1;
}

/** True when a property name is one of these counters (for backends that store them as properties). */
export function isCounterKey(name: string): boolean {
  return name === ACKNOWLEDGED_COUNTER || name === HELD_COUNTER || name.startsWith(VERSION_PREFIX) || name.startsWith(COPY_PREFIX);
}

export function emptyCopyCounts(): CopyCounts {
  return { acknowledged: 0, held: 0, versions: {}, copies: {} };
}

/** Adds counter values (as `counterKeys` names them) into a CopyCounts. */
export function addToCopyCounts(counts: CopyCounts, values: Record<string, number>): CopyCounts {
  for (const [key, n] of Object.entries(values)) {
    if (!n) continue;
    if (key === ACKNOWLEDGED_COUNTER) counts.acknowledged += n;
    else if (key === HELD_COUNTER) counts.held += n;
    else if (key.startsWith(VERSION_PREFIX)) {
      const version = key.slice(VERSION_PREFIX.length);
      counts.versions[version] = (counts.versions[version] ?? 0) + n;
    } else if (key.startsWith(COPY_PREFIX)) {
      const state = key.slice(COPY_PREFIX.length) as CopyState;
      if (COPY_STATES.includes(state)) counts.copies[state] = (counts.copies[state] ?? 0) + n;
    }
  }
  for (const [version, n] of Object.entries(counts.versions)) if (n === 0) delete counts.versions[version];
  for (const [state, n] of Object.entries(counts.copies)) if (n === 0) delete counts.copies[state as CopyState];
  return counts;
}

/** The fields of a patch about the delivered copy, acknowledgement and hold (null clears). */
export function applyCopyFields(d: Delivery, patch: DeliveryPatch): void {
  if (patch.held !== undefined) {
    if (patch.held) d.held = true;
    else delete d.held;
  }
  if (patch.contentVersion !== undefined) d.contentVersion = patch.contentVersion;
  if (patch.copy === null) delete d.copy;
  else if (patch.copy !== undefined) d.copy = patch.copy;
  if (patch.copyReason === null) delete d.copyReason;
  else if (patch.copyReason !== undefined) d.copyReason = patch.copyReason;
  if (patch.acknowledgedAt !== undefined) d.acknowledgedAt = patch.acknowledgedAt;
  if (patch.acknowledgedBy !== undefined) d.acknowledgedBy = patch.acknowledgedBy;
}
