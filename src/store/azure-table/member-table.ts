/**
 * Members in Azure Table Storage.
 *
 * `members` table, two kinds of partition:
 *   person      PK "p!!<tenantId>"     RK <userId>   the Member (written with InsertOrMerge: merge semantics for free)
 *   membership  PK "s!!<sourceKey>"    RK <userId>   { tenantId, userId } — a roster in userId order
 * `memberindex` table: PK "<aad|upn|uid>!!<value>", RK <tenantId> → { tenantId, userId }.
 *   With a tenant, `find` is a point read of the index row and one of the person; without, it reads one small
 *   partition. Index rows are never updated in place when a person's upn changes: `find` checks the person it
 *   lands on still carries the value, so a stale row answers "not found" rather than the wrong person.
 * (All key parts are encoded with `encodeKey`.)
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { Member, MemberInput, MemberStore, Page, UserRef } from "../types";
import { compositeKey, encodeKey } from "./keys";
import {
  chunk, clampLimit, countRows, decodeCursor, definedProps, deleteIfPresent, deleteRows, encodeCursor,
  forEachBounded, getRow, isNotFound, literal, MAX_BATCH, nowIso, optionalString, queryRows, userProps, type Row,
} from "./table-helpers";

type IndexKind = "aad" | "upn" | "uid";

const MEMBER_FIELDS = [
  "tenantId", "userId", "aadObjectId", "upn", "email", "name", "serviceUrl", "personalConversationId", "timeZone", "updatedAt",
] as const;

/** Parallel requests when a roster is written or read (one team can have thousands of members). */
const CONCURRENCY = 16;

const personPartition = (tenantId: string) => compositeKey("p", tenantId);
const sourcePartition = (sourceKey: string) => compositeKey("s", sourceKey);
const indexPartition = (kind: IndexKind, value: string) => compositeKey(kind, value);

export class AzureMemberStore implements MemberStore {
  constructor(private readonly members: TableClient, private readonly index: TableClient) {}

  async upsertMembers(sourceKey: string, inputs: MemberInput[]): Promise<void> {
    if (inputs.length === 0) return;
    const stamp = nowIso();
    // One entity per person per call (a batch may not touch a row twice); later inputs merge over earlier ones.
    const people = new Map<string, Record<string, unknown>>();
    for (const input of inputs) {
      const id = compositeKey(input.tenantId, input.userId);
      const patch = definedProps({ ...input, upn: input.upn?.toLowerCase(), updatedAt: stamp });
      people.set(id, { ...(people.get(id) ?? {}), ...patch });
    }
    const byTenant = new Map<string, Record<string, unknown>[]>();
    for (const person of people.values()) {
      const tenantId = person.tenantId as string;
      byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), person]);
    }

    // People first, then index rows and memberships: a roster entry never points at a person not yet written.
    const personBatches = [...byTenant].flatMap(([tenantId, list]) =>
      chunk(list, MAX_BATCH).map((batch) => ({ tenantId, batch })));
    await forEachBounded(personBatches, CONCURRENCY, async ({ tenantId, batch }) => {
      await this.members.submitTransaction(batch.map((person): TransactionAction => [
        "upsert", { partitionKey: personPartition(tenantId), rowKey: encodeKey(person.userId as string), ...person }, "Merge",
      ]));
    });

    const indexRows: Array<{ kind: IndexKind; value: string; tenantId: string; userId: string }> = [];
    for (const person of people.values()) {
      const tenantId = person.tenantId as string;
      const userId = person.userId as string;
      indexRows.push({ kind: "uid", value: userId, tenantId, userId });
      if (typeof person.aadObjectId === "string") indexRows.push({ kind: "aad", value: person.aadObjectId, tenantId, userId });
      if (typeof person.upn === "string") indexRows.push({ kind: "upn", value: person.upn, tenantId, userId });
    }
    await forEachBounded(indexRows, CONCURRENCY, async ({ kind, value, tenantId, userId }) => {
      await this.index.upsertEntity(
        { partitionKey: indexPartition(kind, value), rowKey: encodeKey(tenantId), tenantId, userId }, "Replace");
    });

    const partition = sourcePartition(sourceKey);
    const memberships = [...people.values()].map((p) => ({ tenantId: p.tenantId as string, userId: p.userId as string }));
    await forEachBounded(chunk(memberships, MAX_BATCH), CONCURRENCY, async (batch) => {
      await this.members.submitTransaction(batch.map((m): TransactionAction => [
        "upsert", { partitionKey: partition, rowKey: encodeKey(m.userId), tenantId: m.tenantId, userId: m.userId }, "Replace",
      ]));
    });
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
    const [kind, value]: [IndexKind, string] =
      "aadObjectId" in ref ? ["aad", ref.aadObjectId] : "upn" in ref ? ["upn", ref.upn.toLowerCase()] : ["uid", ref.userId];
    const partition = indexPartition(kind, value);
    const pointers: Row[] = [];
    if (tenantId !== undefined) {
      const row = await getRow(this.index, partition, encodeKey(tenantId));
      if (row) pointers.push(row);
    } else {
      pointers.push(...await queryRows(this.index, `PartitionKey eq ${literal(partition)}`, 20));
    }
    for (const pointer of pointers) {
      const member = await this.get(String(pointer.tenantId), String(pointer.userId));
      const current = member && (kind === "aad" ? member.aadObjectId : kind === "upn" ? member.upn : member.userId);
      if (member && current === value) return member;
    }
    return undefined;
  }

  async get(tenantId: string, userId: string): Promise<Member | undefined> {
    const row = await getRow(this.members, personPartition(tenantId), encodeKey(userId));
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
      await this.members.updateEntity(
        { partitionKey: personPartition(tenantId), rowKey: encodeKey(userId), personalConversationId: conversationId, updatedAt: nowIso() },
        "Merge",
      );
    } catch (error) {
      if (!isNotFound(error)) throw error; // unknown person: nothing to attach it to (the engine upserts first)
    }
  }
}

function toMember(row: Row): Member {
  const props = userProps(row);
  const member: Record<string, unknown> = {};
  for (const field of MEMBER_FIELDS) {
    const value = optionalString(props, field);
    if (value !== undefined) member[field] = value;
  }
  return member as unknown as Member;
}
