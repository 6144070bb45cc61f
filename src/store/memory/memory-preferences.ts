import type { OptOut, PreferenceStore } from "../types";
import { nowIso } from "./paging";

export class MemoryPreferenceStore implements PreferenceStore {
  /** `${tenantId}\n${userKey}` → category → opt-out. */
  private readonly byUser = new Map<string, Map<string, OptOut>>();

  async optOut(tenantId: string, userKey: string, category: string): Promise<void> {
    const id = userId(tenantId, userKey);
    let categories = this.byUser.get(id);
    if (!categories) this.byUser.set(id, (categories = new Map()));
    if (!categories.has(category)) categories.set(category, { tenantId, userKey, category, at: nowIso() });
  }

  async optIn(tenantId: string, userKey: string, category: string): Promise<void> {
    const id = userId(tenantId, userKey);
    if (category === "*") {
      this.byUser.delete(id);
      return;
    }
    const categories = this.byUser.get(id);
    categories?.delete(category);
    if (categories?.size === 0) this.byUser.delete(id);
  }

  async isOptedOut(tenantId: string, userKeys: string[], category: string | undefined): Promise<boolean> {
    for (const key of userKeys) {
      const categories = this.byUser.get(userId(tenantId, key));
      if (categories && (categories.has("*") || (category !== undefined && categories.has(category)))) return true;
    }
    return false;
  }

  async optedOutAmong(tenantId: string, userKeys: readonly string[], category: string | undefined): Promise<Set<string>> {
    const out = new Set<string>();
    for (const key of userKeys) if (await this.isOptedOut(tenantId, [key], category)) out.add(key);
    return out;
  }

  async list(tenantId: string, userKey: string): Promise<OptOut[]> {
    const categories = this.byUser.get(userId(tenantId, userKey));
    return categories ? [...categories.values()].map((o) => ({ ...o })).sort((a, b) => (a.category < b.category ? -1 : 1)) : [];
  }
}

function userId(tenantId: string, userKey: string): string {
  return `${tenantId}\n${userKey}`;
}
