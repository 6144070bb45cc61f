/**
 * Targets in Azure Table Storage.
 *
 * Layout: PartitionKey = encodeKey(target key), RowKey "t" — one entity per partition. The service returns
 * rows in PartitionKey order, and the encoding preserves order, so `list` is one PartitionKey range query in
 * stable key order; a tenant filter narrows the range (keys are `_${tenantId}_${conversationId}`), and
 * kind/status/teamId are OData property filters. Single-entity partitions spread writes over partition
 * servers (a single partition is capped at ~2,000 operations/s), no target operation needs a transaction, and
 * Azurite (whose point operations cost O(partition size)) stays fast with 100k targets.
 */
import type { TableClient } from "@azure/data-tables";
import type { GoneReason, Page, Target, TargetInput, TargetQuery, TargetStore } from "../types";
import { encodeKey, prefixUpperBound } from "./keys";
import {
  clampLimit, countRows, createIfAbsent, decodeCursor, definedProps, deleteIfPresent, encodeCursor, getJson, getRow, literal, nowIso,
  optionalString, putJson, queryRows, userProps, withOptimisticRetry, type Entity, type Row,
} from "./table-helpers";

const ROW = "t";

/** Target fields stored as plain string properties (everything but `reference`). */
const STRING_FIELDS = [
  "key", "kind", "tenantId", "conversationId", "serviceUrl", "teamId", "teamName", "channelId", "userId",
  "aadObjectId", "name", "upn", "locale", "timeZone", "installedBy", "installedAt", "updatedAt", "status",
  "goneReason", "goneAt",
] as const;

export class AzureTargetStore implements TargetStore {
  constructor(private readonly table: TableClient) {}

  async upsert(input: TargetInput): Promise<{ target: Target; created: boolean }> {
    const { at, ...fields } = writable(input);
    const stamp = at ?? nowIso();
    const partitionKey = encodeKey(input.key);
    const fresh: Target = { ...(definedProps(fields) as Omit<TargetInput, "at">), installedAt: stamp, updatedAt: stamp, status: "active" };
    // Insert first: most upserts are installs of new targets, which then cost one request.
    if (await createIfAbsent(this.table, toEntity(fresh))) return { target: fresh, created: true };
    return withOptimisticRetry(async () => {
      const row = await getRow(this.table, partitionKey, ROW);
      if (!row) {
        await this.table.createEntity(toEntity(fresh)); // removed meanwhile; 409 → retry as an update
        return { target: fresh, created: true };
      }
      const stored = fromRow(row);
      const target: Target = { ...stored, ...(definedProps(fields) as Partial<Target>), updatedAt: stamp, status: "active" };
      delete target.goneReason;
      delete target.goneAt;
      await this.table.updateEntity(toEntity(target), "Replace", { etag: row.etag });
      return { target, created: false };
    });
  }

  async insertIfAbsent(input: TargetInput): Promise<boolean> {
    const { at, ...fields } = writable(input);
    const stamp = at ?? nowIso();
    const target: Target = { ...(definedProps(fields) as Omit<TargetInput, "at">), installedAt: stamp, updatedAt: stamp, status: "active" };
    return createIfAbsent(this.table, toEntity(target));
  }

  async get(key: string): Promise<Target | undefined> {
    const row = await getRow(this.table, encodeKey(key), ROW);
    return row && fromRow(row);
  }

  async remove(key: string): Promise<boolean> {
    return deleteIfPresent(this.table, encodeKey(key), ROW);
  }

  async markGone(key: string, reason: GoneReason, at?: string): Promise<boolean> {
    const stamp = at ?? nowIso();
    return withOptimisticRetry(async () => {
      const row = await getRow(this.table, encodeKey(key), ROW);
      if (!row) return false;
      const target: Target = { ...fromRow(row), status: "gone", goneReason: reason, goneAt: stamp, updatedAt: stamp };
      await this.table.updateEntity(toEntity(target), "Replace", { etag: row.etag });
      return true;
    });
  }

  async list(query: TargetQuery, limit: number, cursor?: string): Promise<Page<Target>> {
    const max = clampLimit(limit);
    const after = decodeCursor(cursor);
    const filter = filterFor(query) + (after !== undefined ? ` and PartitionKey gt ${literal(after)}` : "");
    const rows = await queryRows(this.table, filter, max + 1);
    const items = rows.slice(0, max).map(fromRow);
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(rows[max - 1]!.partitionKey!) };
  }

  async count(query: TargetQuery): Promise<number> {
    return countRows(this.table, filterFor(query));
  }
}

/** The caller's fields only: a spread Target's installedAt/updatedAt/status/gone* belong to the store. */
function writable(input: TargetInput): TargetInput {
  const { installedAt: _i, updatedAt: _u, status: _s, goneReason: _r, goneAt: _g, ...fields } = input as TargetInput & Partial<Target>;
  return structuredClone(fields); // what we return must not share objects with the caller's input
}

function filterFor(query: TargetQuery): string {
  const clauses = [`RowKey eq ${literal(ROW)}`];
  if (query.tenantId !== undefined) {
    // Keys start with `_${tenantId}_`: a PartitionKey range, so a tenant's targets are read without a scan.
    const low = encodeKey(`_${query.tenantId}_`);
    clauses.unshift(`PartitionKey ge ${literal(low)}`, `PartitionKey lt ${literal(prefixUpperBound(low))}`);
    clauses.push(`tenantId eq ${literal(query.tenantId)}`);
  }
  if (query.kind !== undefined) clauses.push(`kind eq ${literal(query.kind)}`);
  if (query.status !== undefined) clauses.push(`status eq ${literal(query.status)}`);
  if (query.teamId !== undefined) clauses.push(`teamId eq ${literal(query.teamId)}`);
  return clauses.join(" and ");
}

function toEntity(target: Target): Entity {
  const entity: Entity = { partitionKey: encodeKey(target.key), rowKey: ROW };
  for (const field of STRING_FIELDS) {
    const value = target[field];
    if (typeof value === "string") entity[field] = value;
  }
  putJson(entity, "reference", target.reference);
  return entity;
}

function fromRow(row: Row): Target {
  const props = userProps(row);
  const target: Record<string, unknown> = {};
  for (const field of STRING_FIELDS) {
    const value = optionalString(props, field);
    if (value !== undefined) target[field] = value;
  }
  target.reference = getJson(props, "reference") ?? {};
  return target as unknown as Target;
}
