/**
 * Opt-outs in Azure Table Storage (`prefs` table): PK "<tenantId>!!<userKey>", RK <category> (encoded).
 * A user's opt-outs are one small partition; `isOptedOut` is a handful of parallel point reads.
 */
import type { TableClient } from "@azure/data-tables";
import type { OptOut, PreferenceStore } from "../types";
import { compositeKey, encodeKey } from "./keys";
import { createIfAbsent, deleteIfPresent, deleteRows, getRow, literal, nowIso, queryRows } from "./table-helpers";

const ALL = "*";

export class AzurePreferenceStore implements PreferenceStore {
  constructor(private readonly table: TableClient) {}

  async optOut(tenantId: string, userKey: string, category: string): Promise<void> {
    // Opting out again keeps the first `at`.
    await createIfAbsent(this.table, {
      partitionKey: compositeKey(tenantId, userKey), rowKey: encodeKey(category), tenantId, userKey, category, at: nowIso(),
    });
  }

  async optIn(tenantId: string, userKey: string, category: string): Promise<void> {
    const partitionKey = compositeKey(tenantId, userKey);
    if (category !== ALL) {
      await deleteIfPresent(this.table, partitionKey, encodeKey(category));
      return;
    }
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(partitionKey)}`, Number.MAX_SAFE_INTEGER, ["RowKey"]);
    await deleteRows(this.table, partitionKey, rows.map((r) => r.rowKey!));
  }

  async isOptedOut(tenantId: string, userKeys: string[], category: string | undefined): Promise<boolean> {
    const categories = category === undefined || category === ALL ? [ALL] : [ALL, category];
    const reads = [...new Set(userKeys)].flatMap((userKey) =>
      categories.map((c) => getRow(this.table, compositeKey(tenantId, userKey), encodeKey(c))));
    return (await Promise.all(reads)).some((row) => row !== undefined);
  }

  async list(tenantId: string, userKey: string): Promise<OptOut[]> {
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(compositeKey(tenantId, userKey))}`, Number.MAX_SAFE_INTEGER);
    return rows.map((row) => ({
      tenantId: String(row.tenantId), userKey: String(row.userKey), category: String(row.category), at: String(row.at),
    }));
  }
}
