import type { ScheduleRunStore } from "../types";
import { nowIso } from "./paging";

interface ScheduleRuns {
  claimed: Set<string>;
  last: { slot: string; at: string };
}

export class MemoryScheduleRunStore implements ScheduleRunStore {
  private readonly runs = new Map<string, ScheduleRuns>();

  async claimSlot(scheduleId: string, slot: string, _jobId?: string): Promise<boolean> {
    const last = { slot, at: nowIso() };
    const runs = this.runs.get(scheduleId);
    if (!runs) {
      this.runs.set(scheduleId, { claimed: new Set([slot]), last });
      return true;
    }
    if (runs.claimed.has(slot)) return false;
    runs.claimed.add(slot);
    runs.last = last;
    return true;
  }

  async lastSlot(scheduleId: string): Promise<{ slot: string; at: string } | undefined> {
    const last = this.runs.get(scheduleId)?.last;
    return last && { ...last };
  }
}
