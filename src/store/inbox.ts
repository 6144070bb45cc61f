/**
 * The per-person inbox index behind "My notifications": which notifications a person received, where, newest
 * first, and which categories they have been sent. Written in the background by the inbox recorder (an observer
 * of the delivery engine), read by the tab. Every backend pages one person's entries with an index range read,
 * never a scan, and passes test/store/inbox-contract.ts.
 */
import type { Page, TargetKind } from "./types";

/** Where the person got it: their 1:1 chat with Herald, a group chat, or a channel of a team they belong to. */
export interface InboxPlace {
  kind: TargetKind;
  /** Chat topic, or the team's name for a channel post. */
  name?: string;
  conversationId?: string;
  teamId?: string;
  channelId?: string;
}

export interface InboxEntry {
  tenantId: string;
  /** The person: Entra object id when known, else the Teams user id. */
  personKey: string;
  jobId: string;
  /** Identifies the place within the job ("personal", or the conversation's target / thread key). */
  placeKey: string;
  place: InboxPlace;
  title: string;
  category: string;
  url?: string;
  /** Who or what sent it, as the card says. */
  triggeredBy: string;
  /**
   * The notification's time (the job's createdAt, as the card's "Sent by … · <time>"). Deterministic per job, so
   * recording an entry again — a retry, a sweep after a restart, another instance — never duplicates it.
   */
  sentAt: string;
}

export interface InboxStore {
  /**
   * Insert or replace entries, identified by (tenantId, personKey, jobId, placeKey), and remember each entry's
   * category for its person. Idempotent.
   */
  record(entries: InboxEntry[]): Promise<void>;
  /** One person's entries, newest `sentAt` first (ties: jobId, then placeKey ascending). `limit` 1..1000. */
  list(tenantId: string, personKey: string, limit: number, cursor?: string): Promise<Page<InboxEntry>>;
  /** The categories this person has been sent, ascending. */
  categories(tenantId: string, personKey: string): Promise<string[]>;
  /** Erasure: every entry and category of this person. Returns how many entries were removed. */
  removePerson(tenantId: string, personKey: string): Promise<number>;
}

/** Newest first, then jobId, then placeKey: the order every backend returns. */
export function compareInboxEntries(a: InboxEntry, b: InboxEntry): number {
  if (a.sentAt !== b.sentAt) return a.sentAt < b.sentAt ? 1 : -1;
  if (a.jobId !== b.jobId) return a.jobId < b.jobId ? -1 : 1;
  return a.placeKey < b.placeKey ? -1 : a.placeKey > b.placeKey ? 1 : 0;
}
