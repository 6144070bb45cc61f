/**
 * The inbox index in Azure Table Storage (`inbox` table). A person's rows share one of 16 hash-bucket
 * partitions, so a roster-wide fan-out is written as transactions of 100 and one person's inbox is a RowKey
 * range read:
 *   entry     PK "b!!<bucket(tenant, person)>"  RK "e!!<tenantId>!!<personKey>!!<inverted sentAt>!!<jobId>!!<placeKey>"
 *   category  PK (same)                          RK "c!!<tenantId>!!<personKey>!!<category>"
 * The inverted time (9999999999999 − epoch ms, 13 digits) makes RowKey order newest first. `sentAt` is fixed per
 * job, so recording an entry twice writes the same row. Category rows this process already wrote are not written
 * again (most notifications repeat a person's categories).
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { InboxEntry, InboxStore } from "../inbox";
import type { Page } from "../types";
import { bucketOf, compositeKey, encodeKey, KEY_SEPARATOR, padNumber, prefixUpperBound } from "./keys";
import { chunk, clampLimit, decodeCursor, deleteRows, encodeCursor, forEachBounded, getJson, literal, MAX_BATCH, putJson, queryRows, type Entity } from "./table-helpers";

/** Partitions of the table. Changing it orphans every stored row: never change it. */
const BUCKETS = 16;
/** Category rows remembered as written, per process (a bound on memory; forgetting only costs a rewrite). */
const KNOWN_CATEGORIES_LIMIT = 100_000;
const CONCURRENCY = 16;
const LATEST = 9_999_999_999_999;

const partitionOf = (tenantId: string, personKey: string) => compositeKey("b", bucketOf(`${tenantId}\n${personKey}`, BUCKETS));
const entryPrefix = (tenantId: string, personKey: string) => compositeKey("e", tenantId, personKey) + KEY_SEPARATOR;
const categoryPrefix = (tenantId: string, personKey: string) => compositeKey("c", tenantId, personKey) + KEY_SEPARATOR;

function invertedTime(iso: string): string {
  return padNumber(LATEST - Date.parse(iso), 13);
}

function rangeFilter(partitionKey: string, low: string, high: string, after?: string): string {
  return `PartitionKey eq ${literal(partitionKey)} and RowKey ${after ? "gt" : "ge"} ${literal(after ?? low)} and RowKey lt ${literal(high)}`;
}

export class AzureInboxStore implements InboxStore {
  private readonly knownCategories = new Set<string>();

  constructor(private readonly table: TableClient) {}

  async record(entries: InboxEntry[]): Promise<void> {
    const byPartition = new Map<string, Map<string, Entity>>();
    const add = (row: Entity) => {
      let rows = byPartition.get(row.partitionKey);
      if (!rows) byPartition.set(row.partitionKey, (rows = new Map()));
      rows.set(row.rowKey, row); // a transaction may not touch a row twice; the last write wins
    };
    for (const entry of entries) {
      const partitionKey = partitionOf(entry.tenantId, entry.personKey);
      const row: Entity = {
        partitionKey,
        rowKey: entryPrefix(entry.tenantId, entry.personKey) + compositeKey(invertedTime(entry.sentAt), entry.jobId, entry.placeKey),
      };
      putJson(row, "entry", entry);
      add(row);
      const categoryRow = categoryPrefix(entry.tenantId, entry.personKey) + encodeKey(entry.category);
      if (!this.knownCategories.has(`${partitionKey}/${categoryRow}`)) add({ partitionKey, rowKey: categoryRow, category: entry.category });
    }
    const batches = [...byPartition.values()].flatMap((rows) => chunk([...rows.values()], MAX_BATCH));
    await forEachBounded(batches, CONCURRENCY, async (batch) => {
      if (batch.length === 1) await this.table.upsertEntity(batch[0]!, "Replace");
      else await this.table.submitTransaction(batch.map((row): TransactionAction => ["upsert", row, "Replace"]));
    });
    if (this.knownCategories.size > KNOWN_CATEGORIES_LIMIT) this.knownCategories.clear();
    for (const [partitionKey, rows] of byPartition) {
      for (const rowKey of rows.keys()) if (rowKey.startsWith(`c${KEY_SEPARATOR}`)) this.knownCategories.add(`${partitionKey}/${rowKey}`);
    }
  }

  async list(tenantId: string, personKey: string, limit: number, cursor?: string): Promise<Page<InboxEntry>> {
    const max = clampLimit(limit);
    const low = entryPrefix(tenantId, personKey);
    const after = decodeCursor(cursor);
    const rows = await queryRows(this.table, rangeFilter(partitionOf(tenantId, personKey), low, prefixUpperBound(low), after), max + 1);
    const page = rows.slice(0, max);
    const items = page.map((row) => getJson<InboxEntry>(row, "entry")!);
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(page[page.length - 1]!.rowKey!) };
  }

  async removePerson(tenantId: string, personKey: string): Promise<number> {
    const partitionKey = partitionOf(tenantId, personKey);
    let removed = 0;
    for (const low of [entryPrefix(tenantId, personKey), categoryPrefix(tenantId, personKey)]) {
      const rows = await queryRows(this.table, rangeFilter(partitionKey, low, prefixUpperBound(low)), Number.MAX_SAFE_INTEGER, ["RowKey"]);
      const deleted = await deleteRows(this.table, partitionKey, rows.map((r) => r.rowKey!));
      if (low.startsWith("e")) removed = deleted;
      for (const row of rows) this.knownCategories.delete(`${partitionKey}/${row.rowKey}`);
    }
    return removed;
  }

  async categories(tenantId: string, personKey: string): Promise<string[]> {
    const low = categoryPrefix(tenantId, personKey);
    const rows = await queryRows(this.table, rangeFilter(partitionOf(tenantId, personKey), low, prefixUpperBound(low)), Number.MAX_SAFE_INTEGER, ["category"]);
    return rows.map((row) => String(row.category)).sort();
  }
}
