import type Database from "better-sqlite3";
import type { Logger } from "../../logger";
import type { HeraldStore } from "../types";
import { openDatabase, type OpenDatabaseOptions } from "./open-database";
import { SqliteInboxStore } from "./sqlite-inbox";
import { SqliteJobStore } from "./sqlite-jobs";
import { SqliteMemberStore } from "./sqlite-members";
import { SqlitePreferenceStore } from "./sqlite-preferences";
import { SqliteScheduleRunStore } from "./sqlite-schedules";
import { SqliteTargetStore } from "./sqlite-targets";
import { SqliteWorkStore } from "./sqlite-work";

/** Where `HERALD_STORE` unset puts the file (relative to the working directory). */
export const DEFAULT_SQLITE_PATH = ".herald/herald.db";

/**
 * Herald's store in one SQLite file (WAL, synchronous=NORMAL). better-sqlite3 is synchronous, so each method
 * is one statement or one transaction that finishes before the next call starts; several processes may
 * share the file (busy timeout, IMMEDIATE write transactions).
 *
 * Throws StoreUnreadableError from the constructor when the file exists but is not a healthy database.
 */
export class SqliteStore implements HeraldStore {
  readonly kind = "sqlite" as const;
  readonly targets: SqliteTargetStore;
  readonly members: SqliteMemberStore;
  readonly jobs: SqliteJobStore;
  readonly work: SqliteWorkStore;
  readonly preferences: SqlitePreferenceStore;
  readonly schedules: SqliteScheduleRunStore;
  readonly inbox: SqliteInboxStore;
  /** The open database (the engine lock records its holder here). */
  readonly db: Database.Database;
  private readonly pingStatement: Database.Statement;

  constructor(readonly path: string, logger: Logger, options: OpenDatabaseOptions = {}) {
    this.db = openDatabase(path, logger, options);
    this.targets = new SqliteTargetStore(this.db);
    this.members = new SqliteMemberStore(this.db);
    this.jobs = new SqliteJobStore(this.db);
    this.work = new SqliteWorkStore(this.db);
    this.preferences = new SqlitePreferenceStore(this.db);
    this.schedules = new SqliteScheduleRunStore(this.db);
    this.inbox = new SqliteInboxStore(this.db);
    this.pingStatement = this.db.prepare("SELECT 1");
  }

  async ping(): Promise<void> {
    this.pingStatement.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
