/**
 * Work items in Azure Table Storage (`work` table): PK "p<partition, 4 digits>", RK "<kind>!!<id>".
 * Only unfinished work is here, so listing every owned partition is one small range query — what each instance
 * runs twice a second as its doorbell (table transactions cost a fraction of a blob operation).
 */
import type { TableClient } from "@azure/data-tables";
import type { WorkItem, WorkStore } from "../types";
import { compositeKey, padNumber } from "./keys";
import { deleteIfPresent, getJson, literal, nowIso, putJson, queryRows, type Entity } from "./table-helpers";

const partitionKeyOf = (partition: number) => `p${padNumber(partition, 4)}`;
const rowKeyOf = (kind: WorkItem["kind"], id: string) => compositeKey(kind, id);

export class AzureWorkStore implements WorkStore {
  constructor(private readonly table: TableClient) {}

  async put(item: Omit<WorkItem, "createdAt"> & { createdAt?: string }): Promise<void> {
    await this.table.upsertEntity(toEntity({ ...item, createdAt: item.createdAt ?? nowIso() }), "Replace");
  }

  async list(partitions?: readonly number[]): Promise<WorkItem[]> {
    if (partitions && partitions.length === 0) return [];
    const wanted = partitions && new Set(partitions);
    const low = wanted ? partitionKeyOf(Math.min(...wanted)) : "p";
    const high = wanted ? partitionKeyOf(Math.max(...wanted)) : "q";
    const filter = `PartitionKey ge ${literal(low)} and PartitionKey ${wanted ? "le" : "lt"} ${literal(high)}`;
    const rows = await queryRows(this.table, filter, Number.MAX_SAFE_INTEGER);
    return rows
      .map((row): WorkItem => ({
        partition: Number(row.partition), kind: String(row.kind) as WorkItem["kind"], id: String(row.id),
        data: getJson<Record<string, unknown>>(row, "data") ?? {}, createdAt: String(row.createdAt),
      }))
      .filter((item) => !wanted || wanted.has(item.partition))
      .sort((a, b) => a.partition - b.partition || (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  remove(partition: number, kind: WorkItem["kind"], id: string): Promise<boolean> {
    return deleteIfPresent(this.table, partitionKeyOf(partition), rowKeyOf(kind, id));
  }
}

/** The entity for a work item; exported for createJob, which writes its slices' items itself. */
export function workEntity(item: WorkItem): Entity {
  return toEntity(item);
}

function toEntity(item: WorkItem): Entity {
  const entity: Entity = {
    partitionKey: partitionKeyOf(item.partition), rowKey: rowKeyOf(item.kind, item.id),
    partition: item.partition, kind: item.kind, id: item.id, createdAt: item.createdAt,
  };
  putJson(entity, "data", item.data);
  return entity;
}


