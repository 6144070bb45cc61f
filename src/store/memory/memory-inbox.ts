import { compareInboxEntries, type InboxEntry, type InboxStore } from "../inbox";
import type { Page } from "../types";
import { clampLimit, copy, decodeCursor, encodeCursor } from "./paging";

/** One person's inbox: entries by identity, and the categories they were sent. */
interface PersonInbox {
  entries: Map<string, InboxEntry>;
  categories: Set<string>;
}

export class MemoryInboxStore implements InboxStore {
  private readonly people = new Map<string, PersonInbox>();

  async record(entries: InboxEntry[]): Promise<void> {
    for (const entry of entries) {
      const key = personId(entry.tenantId, entry.personKey);
      let inbox = this.people.get(key);
      if (!inbox) this.people.set(key, (inbox = { entries: new Map(), categories: new Set() }));
      inbox.entries.set(`${entry.jobId}\n${entry.placeKey}`, copy(entry));
      inbox.categories.add(entry.category);
    }
  }

  async list(tenantId: string, personKey: string, limit: number, cursor?: string): Promise<Page<InboxEntry>> {
    const inbox = this.people.get(personId(tenantId, personKey));
    if (!inbox) return { items: [] };
    const max = clampLimit(limit);
    const after = decodeCursor(cursor);
    const sorted = [...inbox.entries.values()].sort(compareInboxEntries);
    const start = after === undefined ? 0 : sorted.findIndex((e) => compareInboxEntries(e, JSON.parse(after) as InboxEntry) > 0);
    const rest = start < 0 ? [] : sorted.slice(start);
    const items = rest.slice(0, max).map(copy);
    if (rest.length <= max) return { items };
    const last = items[items.length - 1]!;
    return { items, cursor: encodeCursor(JSON.stringify({ sentAt: last.sentAt, jobId: last.jobId, placeKey: last.placeKey })) };
  }

  async categories(tenantId: string, personKey: string): Promise<string[]> {
    return [...(this.people.get(personId(tenantId, personKey))?.categories ?? [])].sort();
  }

  async removePerson(tenantId: string, personKey: string): Promise<number> {
    const id = personId(tenantId, personKey);
    const removed = this.people.get(id)?.entries.size ?? 0;
    this.people.delete(id);
    return removed;
  }
}

function personId(tenantId: string, personKey: string): string {
  return `${tenantId}\n${personKey}`;
}
