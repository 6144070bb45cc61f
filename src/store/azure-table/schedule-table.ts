/**
 * Schedule slots in Azure Table Storage (`schedules` table):
 *   PK "slot!!<scheduleId>"  RK <slot>        the claim, inserted with createEntity (409 = already claimed)
 *   PK "last"                RK <scheduleId>  the latest successful claim, for lastSlot (a point read)
 */
import type { TableClient } from "@azure/data-tables";
import type { ScheduleRunStore } from "../types";
import { compositeKey, encodeKey } from "./keys";
import { createIfAbsent, getRow, nowIso, withOptimisticRetry } from "./table-helpers";

const LAST = "last";

export class AzureScheduleRunStore implements ScheduleRunStore {
  constructor(private readonly table: TableClient) {}

  async claimSlot(scheduleId: string, slot: string, jobId?: string): Promise<boolean> {
    const at = nowIso();
    const claimed = await createIfAbsent(this.table, {
      partitionKey: compositeKey("slot", scheduleId), rowKey: encodeKey(slot), scheduleId, slot, at,
      ...(jobId !== undefined ? { jobId } : {}),
    });
    if (!claimed) return false;
    const rowKey = encodeKey(scheduleId);
    await withOptimisticRetry(async () => {
      const last = await getRow(this.table, LAST, rowKey);
      const entity = { partitionKey: LAST, rowKey, slot, at };
      if (!last) {
        await this.table.createEntity(entity); // 409: a concurrent claim wrote first → re-read, compare
      } else if (String(last.at) <= at) {
        await this.table.updateEntity(entity, "Replace", { etag: last.etag });
      }
    });
    return true;
  }

  async lastSlot(scheduleId: string): Promise<{ slot: string; at: string } | undefined> {
    const row = await getRow(this.table, LAST, encodeKey(scheduleId));
    return row ? { slot: String(row.slot), at: String(row.at) } : undefined;
  }
}
