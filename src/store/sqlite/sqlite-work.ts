import type Database from "better-sqlite3";
import type { WorkItem, WorkStore } from "../types";
import { nowIso } from "./cursor";

interface WorkRow { partition: number; kind: WorkItem["kind"]; id: string; data: string; created_at: string }

export class SqliteWorkStore implements WorkStore {
  private readonly upsert: Database.Statement;
  private readonly selectAll: Database.Statement;
  private readonly selectSome: Database.Statement;
  private readonly deleteOne: Database.Statement;

  constructor(db: Database.Database) {
    this.upsert = db.prepare("INSERT OR REPLACE INTO work (partition, kind, id, data, created_at) VALUES (?, ?, ?, ?, ?)");
    this.selectAll = db.prepare("SELECT * FROM work ORDER BY partition, created_at, kind, id");
    this.selectSome = db.prepare(
      "SELECT * FROM work WHERE partition IN (SELECT value FROM json_each(?)) ORDER BY partition, created_at, kind, id");
    this.deleteOne = db.prepare("DELETE FROM work WHERE partition = ? AND kind = ? AND id = ?");
  }

  async put(item: Omit<WorkItem, "createdAt"> & { createdAt?: string }): Promise<void> {
    this.upsert.run(item.partition, item.kind, item.id, JSON.stringify(item.data), item.createdAt ?? nowIso());
  }

  async list(partitions?: readonly number[]): Promise<WorkItem[]> {
    const rows = (partitions ? this.selectSome.all(JSON.stringify(partitions)) : this.selectAll.all()) as WorkRow[];
    return rows.map((r) => ({ partition: r.partition, kind: r.kind, id: r.id, data: JSON.parse(r.data), createdAt: r.created_at }));
  }

  async remove(partition: number, kind: WorkItem["kind"], id: string): Promise<boolean> {
    return this.deleteOne.run(partition, kind, id).changes === 1;
  }
}
