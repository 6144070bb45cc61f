import type { GoneReason, Member, MemberInput, MemberStore, Page, UserRef } from "../types";
import { assignDefined, clampLimit, decodeCursor, encodeCursor, nowIso } from "./paging";
import { SortedKeys } from "./sorted-keys";
import { compareByName, matchesQuery, memberSearchWords, MIN_SEARCH_CHARS, queryWords } from "../search-words";

/** One team's / chat's roster: userId → member id, with a sorted view for paging. */
interface Roster {
  memberIds: Map<string, string>;
  order: SortedKeys;
}

export class MemoryMemberStore implements MemberStore {
  private readonly byId = new Map<string, Member>();
  /** Secondary indexes: value → member ids (a handful at most per value). */
  private readonly byAad = new Map<string, Set<string>>();
  private readonly byUpn = new Map<string, Set<string>>();
  private readonly byUserId = new Map<string, Set<string>>();
  /** `${tenantId}\n${first characters of a search word}` → member ids (the directory search). */
  private readonly byWordStart = new Map<string, Set<string>>();
  private readonly rosters = new Map<string, Roster>();

  async upsertMembers(sourceKey: string, members: MemberInput[]): Promise<void> {
    const stamp = nowIso();
    for (const input of members) {
      const id = memberId(input.tenantId, input.userId);
      const patch: Partial<Member> = { ...input, upn: input.upn?.toLowerCase(), updatedAt: stamp };
      const existing = this.byId.get(id);
      if (existing) {
        this.unindex(id, existing);
        assignDefined(existing, patch);
        if (input.personalConversationId) clearGone(existing);
        this.index(id, existing);
      } else {
        const member = assignDefined({} as Member, patch);
        this.byId.set(id, member);
        this.index(id, member);
      }
      const roster = this.roster(sourceKey, true)!;
      if (!roster.memberIds.has(input.userId)) {
        roster.memberIds.set(input.userId, id);
        roster.order.add(input.userId);
      }
    }
  }

  async removeMembership(sourceKey: string, userIds: string[]): Promise<void> {
    const roster = this.roster(sourceKey, false);
    if (!roster) return;
    for (const userId of userIds) roster.memberIds.delete(userId);
    roster.order.removed();
    if (roster.memberIds.size === 0) this.rosters.delete(sourceKey);
  }

  async removeSource(sourceKey: string): Promise<void> {
    this.rosters.delete(sourceKey);
  }

  async find(ref: UserRef, tenantId?: string): Promise<Member | undefined> {
    const [index, value] =
      "aadObjectId" in ref ? [this.byAad, ref.aadObjectId] :
      "upn" in ref ? [this.byUpn, ref.upn.toLowerCase()] :
      [this.byUserId, ref.userId];
    for (const id of index.get(value) ?? []) {
      const member = this.byId.get(id)!;
      if (tenantId === undefined || member.tenantId === tenantId) return { ...member };
    }
    return undefined;
  }

  async get(tenantId: string, userId: string): Promise<Member | undefined> {
    const member = this.byId.get(memberId(tenantId, userId));
    return member && { ...member };
  }

  async listBySource(sourceKey: string, limit: number, cursor?: string): Promise<Page<Member>> {
    const roster = this.roster(sourceKey, false);
    if (!roster) return { items: [] };
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const items: Member[] = [];
    for (const userId of roster.order.ascending(decodeCursor(cursor))) {
      if (items.length === max) return { items, cursor: encodeCursor(items[items.length - 1]!.userId) };
      items.push({ ...this.byId.get(roster.memberIds.get(userId)!)! });
    }
    return { items };
  }

  async countBySource(sourceKey: string): Promise<number> {
    return this.roster(sourceKey, false)?.memberIds.size ?? 0;
  }

  async setPersonalConversation(tenantId: string, userId: string, conversationId: string): Promise<void> {
    const member = this.byId.get(memberId(tenantId, userId));
    if (!member) return; // nothing to attach it to; the engine upserts the member first
    member.personalConversationId = conversationId;
    clearGone(member);
    member.updatedAt = nowIso();
  }

  async markPersonalChatGone(tenantId: string, userId: string, reason: GoneReason, at?: string): Promise<boolean> {
    const member = this.byId.get(memberId(tenantId, userId));
    if (!member) return false;
    member.personalChatGone = reason;
    member.personalChatGoneAt = at ?? nowIso();
    member.updatedAt = nowIso();
    return true;
  }

  async search(tenantId: string, text: string, limit: number): Promise<Member[]> {
    const words = queryWords(text);
    if (!words.length) return [];
    const candidates = this.byWordStart.get(wordStartKey(tenantId, words[0]!)) ?? new Set<string>();
    return [...candidates]
      .map((id) => this.byId.get(id)!)
      .filter((m) => matchesQuery(m, words))
      .sort(compareByName)
      .slice(0, clampLimit(limit, 50))
      .map((m) => ({ ...m }));
  }

  async removePerson(tenantId: string, userId: string): Promise<boolean> {
    const id = memberId(tenantId, userId);
    const member = this.byId.get(id);
    if (!member) return false;
    this.unindex(id, member);
    this.byId.delete(id);
    for (const sourceKey of [...this.rosters.keys()]) {
      if (this.rosters.get(sourceKey)!.memberIds.get(userId) === id) await this.removeMembership(sourceKey, [userId]);
    }
    return true;
  }

  private roster(sourceKey: string, create: boolean): Roster | undefined {
    let roster = this.rosters.get(sourceKey);
    if (!roster && create) {
      const memberIds = new Map<string, string>();
      roster = { memberIds, order: new SortedKeys((userId) => memberIds.has(userId)) };
      this.rosters.set(sourceKey, roster);
    }
    return roster;
  }

  private index(id: string, m: Member): void {
    if (m.aadObjectId) addTo(this.byAad, m.aadObjectId, id);
    if (m.upn) addTo(this.byUpn, m.upn, id);
    addTo(this.byUserId, m.userId, id);
    for (const word of memberSearchWords(m)) addTo(this.byWordStart, wordStartKey(m.tenantId, word), id);
  }

  private unindex(id: string, m: Member): void {
    if (m.aadObjectId) removeFrom(this.byAad, m.aadObjectId, id);
    if (m.upn) removeFrom(this.byUpn, m.upn, id);
    removeFrom(this.byUserId, m.userId, id);
    for (const word of memberSearchWords(m)) removeFrom(this.byWordStart, wordStartKey(m.tenantId, word), id);
  }
}

function clearGone(member: Member): void {
  delete member.personalChatGone;
  delete member.personalChatGoneAt;
}

function memberId(tenantId: string, userId: string): string {
  return `${tenantId}\n${userId}`;
}

function wordStartKey(tenantId: string, word: string): string {
  return `${tenantId}\n${word.slice(0, MIN_SEARCH_CHARS)}`;
}

function addTo(index: Map<string, Set<string>>, value: string, id: string): void {
  let ids = index.get(value);
  if (!ids) index.set(value, (ids = new Set()));
  ids.add(id);
}

function removeFrom(index: Map<string, Set<string>>, value: string, id: string): void {
  const ids = index.get(value);
  if (!ids) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(value);
}
