/**
 * Opt-outs in Azure Table Storage (`prefs` table):
 *   PK "<tenantId>!!<userKey>"   RK <category>               a person's (or conversation's) opt-out
 *   PK "#t!!<tenantId>" (encoded) RK "<userKey>!!<category>" the tenant's index of the same rows ('#' is in no tenant id)
 *   PK "index"                   RK "v1"                     marker: the tenant index covers every opt-out
 * `isOptedOut` is a handful of parallel point reads; `optedOutAmong` (the engine, once per claimed chunk) reads
 * the tenant's index in one query — a tenant rarely has many opt-outs — and falls back to point reads when it
 * has more than one page. The index row is written before, and deleted after, the person's row, so the index
 * never misses an opt-out that exists.
 */
import type { TableClient } from "@azure/data-tables";
import type { OptOut, PreferenceStore } from "../types";
import { compositeKey, encodeKey } from "./keys";
import { createIfAbsent, deleteRows, forEachBounded, getRow, literal, nowIso, queryRows } from "./table-helpers";

const ALL = "*";
const INDEX_PAGE = 1000;
const INDEX_PREFIX = compositeKey("#t", "");
const tenantIndex = (tenantId: string) => compositeKey("#t", tenantId);

export class AzurePreferenceStore implements PreferenceStore {
  private indexReady?: Promise<void>;

  constructor(private readonly table: TableClient) {}

  async optOut(tenantId: string, userKey: string, category: string): Promise<void> {
    const at = nowIso();
    await this.table.upsertEntity({ partitionKey: tenantIndex(tenantId), rowKey: compositeKey(userKey, category), userKey, category }, "Replace");
    // Opting out again keeps the first `at`.
    await createIfAbsent(this.table, {
      partitionKey: compositeKey(tenantId, userKey), rowKey: encodeKey(category), tenantId, userKey, category, at,
    });
  }

  async optIn(tenantId: string, userKey: string, category: string): Promise<void> {
    const partitionKey = compositeKey(tenantId, userKey);
    const categories = category !== ALL
      ? [category]
      : (await queryRows(this.table, `PartitionKey eq ${literal(partitionKey)}`, Number.MAX_SAFE_INTEGER, ["category"])).map((r) => String(r.category));
    await deleteRows(this.table, partitionKey, categories.map(encodeKey));
    await deleteRows(this.table, tenantIndex(tenantId), categories.map((c) => compositeKey(userKey, c)));
  }

  async isOptedOut(tenantId: string, userKeys: string[], category: string | undefined): Promise<boolean> {
    const categories = category === undefined || category === ALL ? [ALL] : [ALL, category];
    const reads = [...new Set(userKeys)].flatMap((userKey) =>
      categories.map((c) => getRow(this.table, compositeKey(tenantId, userKey), encodeKey(c))));
    return (await Promise.all(reads)).some((row) => row !== undefined);
  }

  async optedOutAmong(tenantId: string, userKeys: readonly string[], category: string | undefined): Promise<Set<string>> {
    const out = new Set<string>();
    if (userKeys.length === 0) return out;
    await (this.indexReady ??= this.buildIndex().catch((error) => {
      this.indexReady = undefined;
      throw error;
    }));
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(tenantIndex(tenantId))}`, INDEX_PAGE + 1, ["userKey", "category"]);
    if (rows.length <= INDEX_PAGE) {
      const wanted = new Set(userKeys);
      for (const row of rows) {
        const key = String(row.userKey);
        if (wanted.has(key) && (row.category === ALL || row.category === category)) out.add(key);
      }
      return out;
    }
    await forEachBounded([...new Set(userKeys)], 16, async (key) => {
      if (await this.isOptedOut(tenantId, [key], category)) out.add(key);
    });
    return out;
  }

  async list(tenantId: string, userKey: string): Promise<OptOut[]> {
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(compositeKey(tenantId, userKey))}`, Number.MAX_SAFE_INTEGER);
    return rows.map((row) => ({
      tenantId: String(row.tenantId), userKey: String(row.userKey), category: String(row.category), at: String(row.at),
    }));
  }

  /** Opt-outs stored before the tenant index existed get their index rows once, then a marker says so. */
  private async buildIndex(): Promise<void> {
    if (await getRow(this.table, "index", "v1")) return;
    const rows = await queryRows(this.table, "PartitionKey ne 'index'", Number.MAX_SAFE_INTEGER);
    const optOuts = rows.filter((r) => !r.partitionKey!.startsWith(INDEX_PREFIX) && typeof r.tenantId === "string" && typeof r.userKey === "string");
    await forEachBounded(optOuts, 8, async (row) => {
      await this.table.upsertEntity({
        partitionKey: tenantIndex(String(row.tenantId)), rowKey: compositeKey(String(row.userKey), String(row.category)), userKey: row.userKey, category: row.category,
      }, "Replace");
    });
    await this.table.upsertEntity({ partitionKey: "index", rowKey: "v1", at: nowIso() }, "Replace");
  }
}


