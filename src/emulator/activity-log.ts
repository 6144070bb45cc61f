/**
 * What the emulated Teams holds of the bot's messages: every activity it accepted, each update (PUT) with its
 * content and time, and deletions. Tests read it to assert "updated exactly once, and now says X" or "every
 * copy deleted". An update or delete names the message by id within its thread, as Teams does: a reply in a
 * channel thread is addressed through the thread's or the channel's conversation id.
 */
import { baseThreadId } from "./faults";
import type { ActivityUpdate, DeliveredActivity } from "./types";

type Json = Record<string, unknown>;

export class ActivityLog {
  private deliveries: DeliveredActivity[] = [];
  private byConversation = new Map<string, DeliveredActivity[]>();
  private byActivityId = new Map<string, DeliveredActivity>();
  private deletions: DeliveredActivity[] = [];
  private updateCount = 0;

  /** `keepContent` false keeps ids and metadata only (big benchmarks). */
  constructor(private readonly keepContent: boolean) {}

  record(entry: Omit<DeliveredActivity, "updates" | "history" | "activity">, activity: Json): DeliveredActivity {
    const stored: DeliveredActivity = { ...entry, updates: 0, history: [], activity: this.keepContent ? activity : undefined };
    this.deliveries.push(stored);
    let list = this.byConversation.get(stored.conversationId);
    if (!list) this.byConversation.set(stored.conversationId, (list = []));
    list.push(stored);
    this.byActivityId.set(stored.activityId, stored);
    return stored;
  }

  /** The message `activityId` as seen from `conversationId` (same thread), unless deleted. */
  findLive(conversationId: string, activityId: string): DeliveredActivity | undefined {
    const entry = this.byActivityId.get(activityId);
    if (!entry || entry.deletedAt !== undefined) return undefined;
    return baseThreadId(entry.conversationId) === baseThreadId(conversationId) ? entry : undefined;
  }

  update(entry: DeliveredActivity, activity: Json, at: number): void {
    entry.updates++;
    this.updateCount++;
    const content = this.keepContent ? activity : undefined;
    entry.history.push({ at, activity: content });
    if (content) entry.activity = content;
  }

  delete(entry: DeliveredActivity, at: number): void {
    entry.deletedAt = at;
    this.deletions.push(entry);
  }

  get(activityId: string): DeliveredActivity | undefined {
    return this.byActivityId.get(activityId);
  }

  delivered(conversationId?: string): DeliveredActivity[] {
    if (conversationId === undefined) return this.deliveries.slice();
    return (this.byConversation.get(conversationId) ?? []).slice();
  }

  /** Deleted messages in the order they were deleted; with an id, only that conversation's. */
  deleted(conversationId?: string): DeliveredActivity[] {
    return conversationId === undefined ? this.deletions.slice() : this.deletions.filter((d) => d.conversationId === conversationId);
  }

  updatesOf(activityId: string): ActivityUpdate[] {
    return (this.byActivityId.get(activityId)?.history ?? []).slice();
  }

  get counts(): { delivered: number; updated: number; deleted: number } {
    return { delivered: this.deliveries.length, updated: this.updateCount, deleted: this.deletions.length };
  }

  clear(): void {
    this.deliveries = [];
    this.byConversation = new Map();
    this.byActivityId = new Map();
    this.deletions = [];
    this.updateCount = 0;
  }
}
