import type Database from "better-sqlite3";
import type { ScheduleRunStore } from "../types";
import { nowIso } from "./cursor";

export class SqliteScheduleRunStore implements ScheduleRunStore {
  private readonly claim: Database.Statement;
  private readonly latest: Database.Statement;

  constructor(db: Database.Database) {
    // The UNIQUE (schedule_id, slot) constraint makes the claim atomic across processes.
    this.claim = db.prepare("INSERT INTO schedule_runs (schedule_id, slot, job_id, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    // Rowids grow with each insert, so the highest is the latest successful claim.
    this.latest = db.prepare("SELECT slot, at FROM schedule_runs WHERE schedule_id = ? ORDER BY id DESC LIMIT 1");
  }

  async claimSlot(scheduleId: string, slot: string, jobId?: string): Promise<boolean> {
    return this.claim.run(scheduleId, slot, jobId ?? null, nowIso()).changes === 1;
  }

  async lastSlot(scheduleId: string): Promise<{ slot: string; at: string } | undefined> {
    return this.latest.get(scheduleId) as { slot: string; at: string } | undefined;
  }
}
