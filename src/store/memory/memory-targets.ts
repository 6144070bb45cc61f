import type { GoneReason, Page, Target, TargetInput, TargetQuery, TargetStore } from "../types";
import { assignDefined, clampLimit, decodeCursor, encodeCursor, nowIso } from "./paging";
import { SortedKeys } from "./sorted-keys";

/**
 * The reference (the only nested field) is kept as JSON: every read hands out a fresh copy for the price of a
 * JSON.parse, several times cheaper than structuredClone when paging 100k targets.
 */
type StoredTarget = Omit<Target, "reference"> & { referenceJson: string };

export class MemoryTargetStore implements TargetStore {
  private readonly byKey = new Map<string, StoredTarget>();
  private readonly order = new SortedKeys((key) => this.byKey.has(key));

  async upsert(input: TargetInput): Promise<{ target: Target; created: boolean }> {
    const { at, ...fields } = writerFields(input);
    const stamp = at ?? nowIso();
    const existing = this.byKey.get(input.key);
    if (!existing) return { target: toTarget(this.insert(fields, stamp)), created: true };
    const { reference, ...flat } = fields;
    assignDefined(existing, flat);
    existing.referenceJson = JSON.stringify(reference);
    existing.updatedAt = stamp;
    existing.status = "active";
    delete existing.goneReason;
    delete existing.goneAt;
    return { target: toTarget(existing), created: false };
  }

  async insertIfAbsent(input: TargetInput): Promise<boolean> {
    if (this.byKey.has(input.key)) return false;
    const { at, ...fields } = writerFields(input);
    this.insert(fields, at ?? nowIso());
    return true;
  }

  async get(key: string): Promise<Target | undefined> {
    const target = this.byKey.get(key);
    return target && toTarget(target);
  }

  async remove(key: string): Promise<boolean> {
    if (!this.byKey.delete(key)) return false;
    this.order.removed();
    return true;
  }

  async markGone(key: string, reason: GoneReason, at?: string): Promise<boolean> {
    const target = this.byKey.get(key);
    if (!target) return false;
    const stamp = at ?? nowIso();
    target.status = "gone";
    target.goneReason = reason;
    target.goneAt = stamp;
    target.updatedAt = stamp;
    return true;
  }

  async list(query: TargetQuery, limit: number, cursor?: string): Promise<Page<Target>> {
    const max = clampLimit(limit);
    const items: Target[] = [];
    for (const key of this.order.ascending(decodeCursor(cursor))) {
      const target = this.byKey.get(key)!;
      if (!matches(target, query)) continue;
      if (items.length === max) return { items, cursor: encodeCursor(items[items.length - 1]!.key) };
      items.push(toTarget(target));
    }
    return { items };
  }

  async count(query: TargetQuery): Promise<number> {
    let n = 0;
    for (const target of this.byKey.values()) if (matches(target, query)) n++;
    return n;
  }

  private insert(fields: Omit<TargetInput, "at">, stamp: string): StoredTarget {
    const { reference, ...flat } = fields;
    const target = assignDefined({} as StoredTarget, flat);
    Object.assign(target, { referenceJson: JSON.stringify(reference), installedAt: stamp, updatedAt: stamp, status: "active" });
    this.byKey.set(target.key, target);
    this.order.add(target.key);
    return target;
  }
}

/** Drops store-owned fields a caller may pass along (e.g. a spread Target): the store sets those itself. */
function writerFields(input: TargetInput): TargetInput {
  const { installedAt: _i, updatedAt: _u, status: _s, goneReason: _r, goneAt: _g, ...fields } = input as TargetInput & Partial<Target>;
  return fields;
}

function toTarget(stored: StoredTarget): Target {
  const { referenceJson, ...flat } = stored;
  return { ...flat, reference: JSON.parse(referenceJson) };
}

function matches(target: StoredTarget, query: TargetQuery): boolean {
  return (
    (query.kind === undefined || target.kind === query.kind) &&
    (query.tenantId === undefined || target.tenantId === query.tenantId) &&
    (query.status === undefined || target.status === query.status) &&
    (query.teamId === undefined || target.teamId === query.teamId)
  );
}
