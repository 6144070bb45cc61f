import Database from "better-sqlite3";
import { closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Logger } from "../../logger";
import { StoreUnreadableError } from "../types";
import { migrate, SCHEMA_VERSION } from "./schema";

const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

export interface OpenDatabaseOptions {
  /** How long a writer waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating when absent) the SQLite file at `path` and brings its schema up to date.
 *
 * An existing file that is not a readable, healthy SQLite database raises StoreUnreadableError and is left
 * exactly as found: the header is checked with plain file reads before SQLite touches the file, and
 * `PRAGMA quick_check` runs before any write (migrations).
 */
export function openDatabase(path: string, logger: Logger, options: OpenDatabaseOptions = {}): Database.Database {
  const inMemory = path === ":memory:";
  const location = inMemory ? path : resolve(path);
  if (!inMemory) checkExistingFile(location);

  let db: Database.Database | undefined;
  try {
    db = new Database(location, { timeout: options.busyTimeoutMs ?? 5000 });
    if (!inMemory) {
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (mode !== "wal") throw new Error(`could not switch to WAL journal mode (got ${String(mode)})`);
    }
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    // Let a checkpointed WAL shrink back instead of staying at its high-water mark after a 100k-delivery job.
    db.pragma("journal_size_limit = 67108864");
    const problems = (db.pragma("quick_check(5)") as Array<{ quick_check: string }>).map((r) => r.quick_check);
    if (problems.length !== 1 || problems[0] !== "ok") throw new Error(`quick_check failed: ${problems.join("; ")}`);
    const found = migrate(db);
    if (found !== SCHEMA_VERSION) logger.info({ path: location, from: found, to: SCHEMA_VERSION }, "sqlite store schema migrated");
    return db;
  } catch (error) {
    try { db?.close(); } catch { /* already failing */ }
    throw error instanceof StoreUnreadableError ? error : new StoreUnreadableError(location, error);
  }
}

/** Refuses anything at `location` that is not a SQLite file, without writing to it. Creates the directory. */
function checkExistingFile(location: string): void {
  let size: number;
  try {
    const stat = statSync(location);
    if (!stat.isFile()) throw new Error("it is not a regular file");
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new StoreUnreadableError(location, error);
    try {
      mkdirSync(dirname(location), { recursive: true });
    } catch (mkdirError) {
      throw new StoreUnreadableError(location, mkdirError);
    }
    return;
  }
  if (size === 0) return; // an empty file is an empty database to SQLite: nothing to lose
  const header = Buffer.alloc(SQLITE_HEADER.length);
  let read = 0;
  try {
    const fd = openSync(location, "r");
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw new StoreUnreadableError(location, error);
  }
  if (read < header.length || !header.equals(SQLITE_HEADER)) {
    throw new StoreUnreadableError(location, new Error("the file is not a SQLite database (unexpected header)"));
  }
}
