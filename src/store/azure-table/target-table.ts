/**
 * Targets in Azure Table Storage.
 *
 * Layout: one partition ("t"), RowKey = encodeKey(target key). One partition gives `list` a global, stable key
 * order with server-side paging; the order-preserving key encoding turns a tenant filter into a RowKey range
 * (keys are `_${tenantId}_${conversationId}`), and kind/status/teamId are OData property filters within it.
 * A single partition serves ~2,000 entity operations/s, far above how fast Teams installs arrive.
 */
import type { TableClient } from "@azure/data-tables";
import type { GoneReason, Page, Target, TargetInput, TargetQuery, TargetStore } from "../types";
import { encodeKey, prefixUpperBound } from "./keys";
import {
  clampLimit, countRows, createIfAbsent, decodeCursor, definedProps, encodeCursor, getJson, getRow, literal, nowIso,
  optionalString, putJson, queryRows, userProps, withOptimisticRetry, type Entity, type Row,
} from "./table-helpers";

const PARTITION = "t";

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
    const rowKey = encodeKey(input.key);
    return withOptimisticRetry(async () => {
      const row = await getRow(this.table, PARTITION, rowKey);
      if (!row) {
        const target: Target = { ...(definedProps(fields) as Omit<TargetInput, "at">), installedAt: stamp, updatedAt: stamp, status: "active" };
        await this.table.createEntity(toEntity(target)); // 409: someone else created it → retry as an update
        return { target, created: true };
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
    const row = await getRow(this.table, PARTITION, encodeKey(key));
    return row && fromRow(row);
  }

  async remove(key: string): Promise<boolean> {
    try {
      await this.table.deleteEntity(PARTITION, encodeKey(key));
      return true;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw error;
    }
  }

  async markGone(key: string, reason: GoneReason, at?: string): Promise<boolean> {
    const stamp = at ?? nowIso();
    return withOptimisticRetry(async () => {
      const row = await getRow(this.table, PARTITION, encodeKey(key));
      if (!row) return false;
      const target: Target = { ...fromRow(row), status: "gone", goneReason: reason, goneAt: stamp, updatedAt: stamp };
      await this.table.updateEntity(toEntity(target), "Replace", { etag: row.etag });
      return true;
    });
  }

  async list(query: TargetQuery, limit: number, cursor?: string): Promise<Page<Target>> {
    const max = clampLimit(limit);
    const after = decodeCursor(cursor);
    const filter = filterFor(query) + (after !== undefined ? ` and RowKey gt ${literal(after)}` : "");
    const rows = await queryRows(this.table, filter, max + 1);
    const items = rows.slice(0, max).map(fromRow);
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(rows[max - 1]!.rowKey!) };
  }

  async count(query: TargetQuery): Promise<number> {
    return countRows(this.table, filterFor(query));
  }
}

/** The caller's fields only: a spread Target's installedAt/updatedAt/status/gone* belong to the store. */
function writable(input: TargetInput): TargetInput {
  const { installedAt: _i, updatedAt: _u, status: _s, goneReason: _r, goneAt: _g, ...fields } = input as TargetInput & Partial<Target>;
  return fields;
}

function filterFor(query: TargetQuery): string {
  const clauses = [`PartitionKey eq ${literal(PARTITION)}`];
  if (query.tenantId !== undefined) {
    // Keys start with `_${tenantId}_`: a RowKey range, so a tenant's targets are read without a scan.
    const low = encodeKey(`_${query.tenantId}_`);
    clauses.push(`RowKey ge ${literal(low)}`, `RowKey lt ${literal(prefixUpperBound(low))}`);
    clauses.push(`tenantId eq ${literal(query.tenantId)}`);
  }
  if (query.kind !== undefined) clauses.push(`kind eq ${literal(query.kind)}`);
  if (query.status !== undefined) clauses.push(`status eq ${literal(query.status)}`);
  if (query.teamId !== undefined) clauses.push(`teamId eq ${literal(query.teamId)}`);
  return clauses.join(" and ");
}

function toEntity(target: Target): Entity {
  const { reference, ...rest } = target;
  const entity: Entity = { partitionKey: PARTITION, rowKey: encodeKey(target.key), ...definedProps(rest) };
  putJson(entity, "reference", reference);
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
