/**
 * Small shared pieces of the Azure Table backend: error classification, paged queries, bounded parallelism,
 * optimistic-concurrency retries and entity property encoding.
 */
import type { TableClient, TableEntity, TableEntityResult, TransactionAction } from "@azure/data-tables";

export type Row = TableEntityResult<Record<string, unknown>>;

/** An Azure Table entity as this backend writes it. */
export type Entity = TableEntity<Record<string, unknown>>;

export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}

export const isNotFound = (error: unknown) => statusOf(error) === 404;
export const isConflict = (error: unknown) => statusOf(error) === 409;
export const isPreconditionFailed = (error: unknown) => statusOf(error) === 412;

/** Point read; undefined when the entity does not exist. */
export async function getRow(table: TableClient, partitionKey: string, rowKey: string): Promise<Row | undefined> {
  try {
    return (await table.getEntity<Record<string, unknown>>(partitionKey, rowKey)) as Row;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** createEntity that answers false instead of throwing when the entity already exists. */
export async function createIfAbsent(table: TableClient, entity: Entity): Promise<boolean> {
  try {
    await table.createEntity(entity);
    return true;
  } catch (error) {
    if (isConflict(error)) return false;
    throw error;
  }
}

/** deleteEntity that answers false instead of throwing when there is nothing to delete. */
export async function deleteIfPresent(table: TableClient, partitionKey: string, rowKey: string, etag?: string): Promise<boolean> {
  try {
    await table.deleteEntity(partitionKey, rowKey, etag ? { etag } : undefined);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Runs `attempt` until it does not fail with 412/409 (another writer got there first, so re-read and redo).
 * Jittered backoff keeps a crowd of writers on one entity from retrying in lockstep.
 */
export async function withOptimisticRetry<T>(attempt: (round: number) => Promise<T>, maxRounds = 200): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await attempt(round);
    } catch (error) {
      if (!(isPreconditionFailed(error) || isConflict(error)) || round + 1 >= maxRounds) throw error;
      const ceiling = Math.min(100, 2 + round * 4);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}

/**
 * Reads rows matching `filter` in key order and stops once `max` rows were collected (a server page may hold
 * fewer rows than asked, or none, while more follow; this follows continuation tokens until satisfied).
 */
export async function queryRows(
  table: TableClient,
  filter: string,
  max: number,
  select?: string[],
): Promise<Row[]> {
  const rows: Row[] = [];
  const pages = table
    .listEntities<Record<string, unknown>>({ queryOptions: { filter, ...(select ? { select } : {}) } })
    .byPage({ maxPageSize: Math.max(1, Math.min(1000, max)) });
  for await (const page of pages) {
    for (const row of page) {
      rows.push(row as Row);
      if (rows.length >= max) return rows;
    }
  }
  return rows;
}

/** Counts rows matching `filter`, fetching only their keys. */
export async function countRows(table: TableClient, filter: string): Promise<number> {
  let n = 0;
  const pages = table.listEntities({ queryOptions: { filter, select: ["RowKey"] } }).byPage({ maxPageSize: 1000 });
  for await (const page of pages) n += page.length;
  return n;
}

/** Runs `work` over `items` with at most `concurrency` in flight; rejects with the first failure. */
export async function forEachBounded<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A batch is one partition and at most 100 operations. */
export const MAX_BATCH = 100;

/** Writes actions (all in one partition) as transactions of up to 100, several in parallel. */
export async function submitInBatches(table: TableClient, actions: TransactionAction[], concurrency: number): Promise<void> {
  await forEachBounded(chunk(actions, MAX_BATCH), concurrency, async (batch) => {
    await table.submitTransaction(batch);
  });
}

// ------------------------------------------------------------------------------ property encoding

/** A string property holds at most 64 KiB (32K UTF-16 units); longer JSON is split over numbered properties. */
const MAX_STRING_PROPERTY = 32_000;

/** Stores `value` as JSON in `name` (or `name_0`, `name_1`, ... plus `name_parts` when it is long). */
export function putJson(entity: Record<string, unknown>, name: string, value: unknown): void {
  const json = JSON.stringify(value ?? null);
  if (json.length <= MAX_STRING_PROPERTY) {
    entity[name] = json;
    return;
  }
  const parts = Math.ceil(json.length / MAX_STRING_PROPERTY);
  for (let i = 0; i < parts; i++) entity[`${name}_${i}`] = json.slice(i * MAX_STRING_PROPERTY, (i + 1) * MAX_STRING_PROPERTY);
  entity[`${name}_parts`] = parts;
}

export function getJson<T>(row: Record<string, unknown>, name: string): T | undefined {
  const whole = row[name];
  if (typeof whole === "string") return JSON.parse(whole) as T;
  const parts = row[`${name}_parts`];
  if (typeof parts !== "number") return undefined;
  let json = "";
  for (let i = 0; i < parts; i++) json += String(row[`${name}_${i}`] ?? "");
  return JSON.parse(json) as T;
}

/** An optional string property: absent (not null) when undefined, so Replace drops it. */
export function optionalString(row: Record<string, unknown>, name: string): string | undefined {
  const value = row[name];
  return typeof value === "string" ? value : undefined;
}

/** Numbers beyond Int32 (epoch ms) are written as Edm.Double explicitly, so the service never guesses. */
export function doubleProperty(value: number): { value: number; type: "Double" } {
  return { value, type: "Double" };
}

export function numberOf(row: Record<string, unknown>, name: string): number | undefined {
  const value = row[name];
  if (typeof value === "number") return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Copies the defined properties of `source` into an entity (Table Storage has no "undefined"). */
export function definedProps(source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined) out[k] = v;
  return out;
}

/** The OData string literal for `value` ('' doubles a quote). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Strips the service's system properties from a row so it can be written back whole. */
export function userProps(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === "etag" || k === "timestamp" || k === "partitionKey" || k === "rowKey" || k.startsWith("odata.")) continue;
    out[k] = v;
  }
  return out;
}

// ------------------------------------------------------------------------------------------- cursors

export { clampLimit, decodeCursor, encodeCursor, nowIso } from "../paging";

/**
 * Deletes rows of one partition in transactions of 100; a batch that fails because a row is already gone is
 * redone row by row (a transaction is all-or-nothing). Returns how many rows this call deleted.
 */
export async function deleteRows(table: TableClient, partitionKey: string, rowKeys: readonly string[], concurrency = 4): Promise<number> {
  let deleted = 0;
  await forEachBounded(chunk(rowKeys, MAX_BATCH), concurrency, async (batch) => {
    try {
      await table.submitTransaction(batch.map((rowKey): TransactionAction => ["delete", { partitionKey, rowKey }]));
      deleted += batch.length;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      for (const rowKey of batch) if (await deleteIfPresent(table, partitionKey, rowKey)) deleted++;
    }
  });
  return deleted;
}
