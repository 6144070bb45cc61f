/**
 * One delivery engine per SQLite file. Two engines on one file would both resume the same interrupted sends and
 * both spend each tenant's budget, so a second Herald refuses to start.
 *
 * The lock is an OS-level one, not a PID file: a sidecar SQLite file (`<db>-engine.lock`) held in an EXCLUSIVE
 * transaction for the life of the process. SQLite takes it with POSIX advisory locks, which the kernel releases
 * when the process ends however it ends (even kill -9), so a lock is never stale. The holder records who it is
 * in the main database (engine_holder), where the refused process reads it to name it.
 */
import Database from "better-sqlite3";
import os from "node:os";
import { resolve } from "node:path";
import type { EngineLock } from "../../cluster/sole-ownership";

export class EngineLockedError extends Error {
  override readonly name = "EngineLockedError";
  constructor(readonly databasePath: string, holder: string) {
    super(`another Herald process (${holder}) is running the delivery engine on ${databasePath}. ` +
      `One process per SQLite file: stop it first, or use Azure Table Storage (HERALD_STORE=azure-table:…) to run several instances.`);
  }
}

interface HolderRow { pid: number; host: string; instance_id: string; since: string }

/** Takes the engine lock of the SQLite database `db` (opened at `path`), or throws EngineLockedError naming the holder. */
export function acquireEngineLock(db: Database.Database, path: string, instanceId: string): EngineLock {
  const location = resolve(path);
  const lockFile = new Database(`${location}-engine.lock`, { timeout: 0 });
  try {
    lockFile.pragma("locking_mode = EXCLUSIVE");
    lockFile.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    lockFile.close();
    if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
    const row = db.prepare("SELECT pid, host, instance_id, since FROM engine_holder WHERE id = 1").get() as HolderRow | undefined;
    throw new EngineLockedError(location, row ? `pid ${row.pid} on ${row.host}, instance ${row.instance_id}, since ${row.since}` : "its pid is not recorded yet");
  }
  db.prepare("INSERT OR REPLACE INTO engine_holder (id, pid, host, instance_id, since) VALUES (1, ?, ?, ?, ?)")
    .run(process.pid, os.hostname(), instanceId, new Date().toISOString());
  return {
    release() {
      if (!lockFile.open) return;
      try {
        lockFile.exec("ROLLBACK");
      } finally {
        lockFile.close();
      }
    },
  };
}
