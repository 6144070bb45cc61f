import type { GoneReason, Page, Target, TargetInput, TargetQuery, TargetStore } from "../types";
import { assignDefined, clampLimit, copy, decodeCursor, encodeCursor, nowIso } from "./paging";
import { SortedKeys } from "./sorted-keys";

export class MemoryTargetStore implements TargetStore {
  private readonly byKey = new Map<string, Target>();
  private readonly order = new SortedKeys((key) => this.byKey.has(key));

  async upsert(input: TargetInput): Promise<{ target: Target; created: boolean }> {
    const { at, ...fields } = input;
    const stamp = at ?? nowIso();
    const existing = this.byKey.get(input.key);
    if (!existing) {
      const target = this.insert(fields, stamp);
      return { target: copy(target), created: true };
    }
    assignDefined(existing, copy(fields));
    existing.updatedAt = stamp;
    existing.status = "active";
    delete existing.goneReason;
    delete existing.goneAt;
    return { target: copy(existing), created: false };
  }

  async insertIfAbsent(input: TargetInput): Promise<boolean> {
    if (this.byKey.has(input.key)) return false;
    const { at, ...fields } = input;
    this.insert(fields, at ?? nowIso());
    return true;
  }

  async get(key: string): Promise<Target | undefined> {
    const target = this.byKey.get(key);
    return target && copy(target);
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
      items.push(copy(target));
    }
    return { items };
  }

  async count(query: TargetQuery): Promise<number> {
    let n = 0;
    for (const target of this.byKey.values()) if (matches(target, query)) n++;
    return n;
  }

  private insert(fields: Omit<TargetInput, "at">, stamp: string): Target {
    const target: Target = { ...copy(fields), installedAt: stamp, updatedAt: stamp, status: "active" };
    for (const k of Object.keys(target) as (keyof Target)[]) if (target[k] === undefined) delete target[k];
    this.byKey.set(target.key, target);
    this.order.add(target.key);
    return target;
  }
}

function matches(target: Target, query: TargetQuery): boolean {
  return (
    (query.kind === undefined || target.kind === query.kind) &&
    (query.tenantId === undefined || target.tenantId === query.tenantId) &&
    (query.status === undefined || target.status === query.status) &&
    (query.teamId === undefined || target.teamId === query.teamId)
  );
}
