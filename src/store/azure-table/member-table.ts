/**
 * Members in Azure Table Storage.
 *
 * `members` table:
 *   person      PK "p!!<bucket(userId)>"   RK "<userId>!!<tenantId>"   the Member
 *   membership  PK "s!!<sourceKey>"        RK "<userId>"               { tenantId, userId }: a roster in userId order
 * `memberindex` table:
 *   PK "<aad|upn>!!<bucket(value)>"  RK "<value>!!<tenantId>"  → { tenantId, userId }
 *   PK "w!!<tenantId>!!<bucket(userId) of 16>"  RK "<word>!!<userId>"  → { tenantId, userId }: the directory search
 *   (search-words.ts). A person's words share a partition, so they are written in one transaction with a roster
 *   page; a search reads one RowKey-prefix range in each of the 16 partitions, in parallel. Like the upn index,
 *   stale rows are checked on read
 * (every part encoded with encodeKey; bucket = stable hash mod 64, fixed forever.)
 *
 * Lookups are point reads when the tenant is known, and one RowKey-prefix range inside one partition when it
 * is not — never a scan. Hash buckets keep partitions small and let a roster be written as transactions of up
 * to 100 rows per bucket (people are written with InsertOrMerge: merge semantics without a read).
 * Index rows are not removed when a person's upn changes: `find` checks that the person it lands on still
 * carries the value, so a stale row answers "not found", never the wrong person.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { GoneReason, Member, MemberInput, MemberStore, Page, UserRef } from "../types";
import { compareByName, matchesQuery, memberSearchWords, queryWords } from "../search-words";
import { bucketOf, compositeKey, encodeKey, KEY_SEPARATOR, padNumber, prefixUpperBound } from "./keys";
import {
  chunk, clampLimit, countRows, decodeCursor, definedProps, deleteIfPresent, deleteRows, encodeCursor,
  forEachBounded, getRow, isNotFound, literal, MAX_BATCH, nowIso, optionalString, queryRows, userProps, type Entity, type Row,
} from "./table-helpers";

type IndexKind = "aad" | "upn";

/** Partitions per row kind. Changing it orphans every stored person and index row: never change it. */
const BUCKETS = 64;

const MEMBER_FIELDS = [
  "tenantId", "userId", "aadObjectId", "upn", "email", "name", "serviceUrl", "personalConversationId", "timeZone",
  "personalChatGone", "personalChatGoneAt", "updatedAt",
] as const;

/** Merge cannot remove a property: an empty string clears the gone mark (toMember reads "" as absent). */
const NOT_GONE = { personalChatGone: "", personalChatGoneAt: "" };

/** Parallel requests while a roster is written or read (one team can have thousands of members). */
const CONCURRENCY = 16;

const personKeys = (tenantId: string, userId: string) =>
  ({ partitionKey: compositeKey("p", bucketOf(userId, BUCKETS)), rowKey: compositeKey(userId, tenantId) });
const indexKeys = (kind: IndexKind, value: string, tenantId: string) =>
  ({ partitionKey: compositeKey(kind, bucketOf(value, BUCKETS)), rowKey: compositeKey(value, tenantId) });
const sourcePartition = (sourceKey: string) => compositeKey("s", sourceKey);
/** Partitions of a tenant's search words. Changing it orphans every stored word row: never change it. */
const WORD_BUCKETS = 16;
const wordPartition = (tenantId: string, bucket: string) => compositeKey("w", tenantId, bucket);
const wordKeys = (word: string, tenantId: string, userId: string) =>
  ({ partitionKey: wordPartition(tenantId, bucketOf(userId, WORD_BUCKETS)), rowKey: compositeKey(word, userId) });

/** Rows whose RowKey is `<value>!!<anything>` in one partition: the same value in every tenant. */
function prefixFilter(partitionKey: string, value: string): string {
  const low = encodeKey(value) + KEY_SEPARATOR;
  return `PartitionKey eq ${literal(partitionKey)} and RowKey ge ${literal(low)} and RowKey lt ${literal(prefixUpperBound(low))}`;
}

export class AzureMemberStore implements MemberStore {
  constructor(private readonly members: TableClient, private readonly index: TableClient) {}

  async upsertMembers(sourceKey: string, inputs: MemberInput[]): Promise<void> {
    if (inputs.length === 0) return;
    const stamp = nowIso();
    // One row per person per call (a transaction may not touch a row twice); later inputs merge over earlier ones.
    const people = new Map<string, Record<string, unknown>>();
    for (const input of inputs) {
      const id = compositeKey(input.tenantId, input.userId);
      const patch = definedProps({ ...input, upn: input.upn?.toLowerCase(), ...(input.personalConversationId ? NOT_GONE : {}), updatedAt: stamp });
      people.set(id, { ...(people.get(id) ?? {}), ...patch });
    }

    // People first, then index rows and memberships: nothing points at a person not yet written.
    await this.writeGrouped(this.members, [...people.values()].map((p) => ({
      ...personKeys(p.tenantId as string, p.userId as string), ...p,
    })), "Merge");

    const indexRows: Entity[] = [];
    for (const p of people.values()) {
      const pointer = { tenantId: p.tenantId as string, userId: p.userId as string };
      if (typeof p.aadObjectId === "string") indexRows.push({ ...indexKeys("aad", p.aadObjectId, pointer.tenantId), ...pointer });
      if (typeof p.upn === "string") indexRows.push({ ...indexKeys("upn", p.upn, pointer.tenantId), ...pointer });
      for (const word of memberSearchWords(p as Pick<Member, "name" | "upn" | "email">)) {
        indexRows.push({ ...wordKeys(word, pointer.tenantId, pointer.userId), ...pointer });
      }
    }
    await this.writeGrouped(this.index, indexRows, "Replace");

    const partitionKey = sourcePartition(sourceKey);
    await this.writeGrouped(this.members, [...people.values()].map((p) => ({
      partitionKey, rowKey: encodeKey(p.userId as string), tenantId: p.tenantId, userId: p.userId,
    })), "Replace");
  }

  async removeMembership(sourceKey: string, userIds: string[]): Promise<void> {
    const partition = sourcePartition(sourceKey);
    await forEachBounded([...new Set(userIds)], CONCURRENCY, async (userId) => {
      await deleteIfPresent(this.members, partition, encodeKey(userId));
    });
  }

  async removeSource(sourceKey: string): Promise<void> {
    const partition = sourcePartition(sourceKey);
    const rows = await queryRows(this.members, `PartitionKey eq ${literal(partition)}`, Number.MAX_SAFE_INTEGER, ["RowKey"]);
    await deleteRows(this.members, partition, rows.map((r) => r.rowKey!));
  }

  async find(ref: UserRef, tenantId?: string): Promise<Member | undefined> {
    if ("userId" in ref) {
      if (tenantId !== undefined) return this.get(tenantId, ref.userId);
      const { partitionKey } = personKeys("", ref.userId);
      const rows = await queryRows(this.members, prefixFilter(partitionKey, ref.userId), 1);
      return rows[0] && toMember(rows[0]);
    }
    const [kind, value]: [IndexKind, string] = "aadObjectId" in ref ? ["aad", ref.aadObjectId] : ["upn", ref.upn.toLowerCase()];
    const pointers: Row[] = [];
    if (tenantId !== undefined) {
      const keys = indexKeys(kind, value, tenantId);
      const row = await getRow(this.index, keys.partitionKey, keys.rowKey);
      if (row) pointers.push(row);
    } else {
      pointers.push(...await queryRows(this.index, prefixFilter(indexKeys(kind, value, "").partitionKey, value), 20));
    }
    for (const pointer of pointers) {
      const member = await this.get(String(pointer.tenantId), String(pointer.userId));
      if (member && (kind === "aad" ? member.aadObjectId : member.upn) === value) return member;
    }
    return undefined;
  }

  async get(tenantId: string, userId: string): Promise<Member | undefined> {
    const { partitionKey, rowKey } = personKeys(tenantId, userId);
    const row = await getRow(this.members, partitionKey, rowKey);
    return row && toMember(row);
  }

  async listBySource(sourceKey: string, limit: number, cursor?: string): Promise<Page<Member>> {
    const max = clampLimit(limit, 10_000);
    const after = decodeCursor(cursor);
    const partition = sourcePartition(sourceKey);
    const filter = `PartitionKey eq ${literal(partition)}` + (after !== undefined ? ` and RowKey gt ${literal(after)}` : "");
    const rows = await queryRows(this.members, filter, max + 1);
    const page = rows.slice(0, max);
    const people: Array<Member | undefined> = new Array(page.length);
    await forEachBounded(page, CONCURRENCY * 2, async (row, i) => {
      people[i] = await this.get(String(row.tenantId), String(row.userId));
    });
    const items = people.filter((m): m is Member => m !== undefined);
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(page[page.length - 1]!.rowKey!) };
  }

  async countBySource(sourceKey: string): Promise<number> {
    return countRows(this.members, `PartitionKey eq ${literal(sourcePartition(sourceKey))}`);
  }

  async setPersonalConversation(tenantId: string, userId: string, conversationId: string): Promise<void> {
    try {
      await this.members.updateEntity({ ...personKeys(tenantId, userId), personalConversationId: conversationId, ...NOT_GONE, updatedAt: nowIso() }, "Merge");
    } catch (error) {
      if (!isNotFound(error)) throw error; // unknown person: nothing to attach it to (the engine upserts first)
    }
  }

  async markPersonalChatGone(tenantId: string, userId: string, reason: GoneReason, at?: string): Promise<boolean> {
    const stamp = nowIso();
    try {
      await this.members.updateEntity({ ...personKeys(tenantId, userId), personalChatGone: reason, personalChatGoneAt: at ?? stamp, updatedAt: stamp }, "Merge");
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async search(tenantId: string, text: string, limit: number): Promise<Member[]> {
    const words = queryWords(text);
    if (!words.length) return [];
    const max = clampLimit(limit, 50);
    const low = encodeKey(words[0]!);
    const range = `RowKey ge ${literal(low)} and RowKey lt ${literal(prefixUpperBound(low))}`;
    const buckets = Array.from({ length: WORD_BUCKETS }, (_, i) => padNumber(i, String(WORD_BUCKETS - 1).length));
    const pointers = (await Promise.all(buckets.map((bucket) =>
      queryRows(this.index, `PartitionKey eq ${literal(wordPartition(tenantId, bucket))} and ${range}`, max * 4, ["userId"])))).flat();
    const userIds = [...new Set(pointers.map((row) => String(row.userId)))];
    const people: Array<Member | undefined> = new Array(userIds.length);
    await forEachBounded(userIds, CONCURRENCY, async (userId, i) => {
      people[i] = await this.get(tenantId, userId);
    });
    // A renamed person's old words stay in the index: the check against the stored person drops them.
    return people.filter((m): m is Member => m !== undefined && matchesQuery(m, words)).sort(compareByName).slice(0, max);
  }

  /**
   * The person row and the index rows that point at them (their search words too: every word row of the person
   * sits in one partition, found by their user id). Memberships live in one partition per team or chat,
   * so the caller removes them per source first (removeMembership); stale index rows of an earlier upn were
   * already unreachable (find checks the person still carries the value).
   */
  async removePerson(tenantId: string, userId: string): Promise<boolean> {
    const person = await this.get(tenantId, userId);
    if (!person) return false;
    const pointers: Array<[IndexKind, string]> = [];
    if (person.aadObjectId) pointers.push(["aad", person.aadObjectId]);
    if (person.upn) pointers.push(["upn", person.upn]);
    for (const [kind, value] of pointers) {
      const keys = indexKeys(kind, value, tenantId);
      const row = await getRow(this.index, keys.partitionKey, keys.rowKey);
      if (row && String(row.userId) === userId) await deleteIfPresent(this.index, keys.partitionKey, keys.rowKey);
    }
    // Their search words, current and from earlier names (a name is personal data too).
    const words = wordPartition(tenantId, bucketOf(userId, WORD_BUCKETS));
    const wordRows = await queryRows(this.index, `PartitionKey eq ${literal(words)} and userId eq ${literal(userId)}`, Number.MAX_SAFE_INTEGER, ["RowKey"]);
    await deleteRows(this.index, words, wordRows.map((r) => r.rowKey!));
    const { partitionKey, rowKey } = personKeys(tenantId, userId);
    await deleteIfPresent(this.members, partitionKey, rowKey);
    return true;
  }

  /** Upserts rows as transactions of up to 100 per partition, several in flight. */
  private async writeGrouped(table: TableClient, rows: Entity[], mode: "Merge" | "Replace"): Promise<void> {
    const byPartition = new Map<string, Entity[]>();
    for (const row of rows) {
      const list = byPartition.get(row.partitionKey) ?? [];
      list.push(row);
      byPartition.set(row.partitionKey, list);
    }
    const batches = [...byPartition.values()].flatMap((list) => chunk(list, MAX_BATCH));
    await forEachBounded(batches, CONCURRENCY, async (batch) => {
      if (batch.length === 1) await table.upsertEntity(batch[0]!, mode);
      else await table.submitTransaction(batch.map((row): TransactionAction => ["upsert", row, mode]));
    });
  }
}

function toMember(row: Row): Member {
  const props = userProps(row);
  const member: Record<string, unknown> = {};
  for (const field of MEMBER_FIELDS) {
    const value = optionalString(props, field);
    if (value) member[field] = value;
  }
  return member as unknown as Member;
}
