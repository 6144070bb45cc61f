import type Database from "better-sqlite3";
import type { GoneReason, Page, Target, TargetInput, TargetQuery, TargetStore } from "../types";
import { clampLimit, decodeCursor, encodeCursor, isString, nowIso } from "./cursor";

/** Target properties and their columns. `required` ones are always replaced on upsert; the rest merge. */
const COLUMNS = [
  { prop: "key", column: "key", required: true },
  { prop: "kind", column: "kind", required: true },
  { prop: "tenantId", column: "tenant_id", required: true },
  { prop: "conversationId", column: "conversation_id", required: true },
  { prop: "serviceUrl", column: "service_url", required: true },
  { prop: "reference", column: "reference", required: true, json: true },
  { prop: "teamId", column: "team_id" },
  { prop: "teamName", column: "team_name" },
  { prop: "channelId", column: "channel_id" },
  { prop: "userId", column: "user_id" },
  { prop: "aadObjectId", column: "aad_object_id" },
  { prop: "name", column: "name" },
  { prop: "upn", column: "upn" },
  { prop: "locale", column: "locale" },
  { prop: "timeZone", column: "time_zone" },
  { prop: "installedBy", column: "installed_by" },
  { prop: "installedAt", column: "installed_at" },
  { prop: "updatedAt", column: "updated_at" },
  { prop: "status", column: "status" },
  { prop: "goneReason", column: "gone_reason" },
  { prop: "goneAt", column: "gone_at" },
] as const satisfies ReadonlyArray<{ prop: keyof Target; column: string; required?: boolean; json?: boolean }>;

type InputColumn = Extract<(typeof COLUMNS)[number], { prop: keyof TargetInput }>;
const STORE_OWNED: ReadonlyArray<keyof Target> = ["installedAt", "updatedAt", "status", "goneReason", "goneAt"];
/** The columns a writer supplies (the store owns timestamps and status). */
const INPUT_COLUMNS = COLUMNS.filter((c): c is InputColumn => !STORE_OWNED.includes(c.prop));

/** Rows are read in raw (array) mode in COLUMNS order: building 21-key row objects costs more than the query. */
type Row = Array<string | null>;
const SELECT = `SELECT ${COLUMNS.map((c) => c.column).join(", ")} FROM targets`;

/**
 * Filters, most selective first; the first one present picks the index (INDEXED BY), so a shared database with
 * many tenants never walks every active target of every tenant to page one tenant's audience.
 */
const FILTERS: ReadonlyArray<{ prop: keyof TargetQuery; column: string; index: string }> = [
  { prop: "teamId", column: "team_id", index: "targets_by_team" },
  { prop: "tenantId", column: "tenant_id", index: "targets_by_tenant" },
  { prop: "kind", column: "kind", index: "targets_by_kind" },
  { prop: "status", column: "status", index: "targets_by_status" },
];

export class SqliteTargetStore implements TargetStore {
  private readonly upsertRow: Database.Statement;
  private readonly insertRow: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly deleteRow: Database.Statement;
  private readonly goneRow: Database.Statement;
  private readonly upsertTx: Database.Transaction<(params: Record<string, unknown>) => { row: Row; created: boolean }>;
  private readonly queries = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    const names = INPUT_COLUMNS.map((c) => c.column).join(", ");
    const values = INPUT_COLUMNS.map((c) => `@${c.prop}`).join(", ");
    const merge = INPUT_COLUMNS.filter((c) => c.prop !== "key")
      .map((c) => ("required" in c ? `${c.column} = excluded.${c.column}` : `${c.column} = COALESCE(excluded.${c.column}, ${c.column})`))
      .join(", ");
    const insert = `INSERT INTO targets (${names}, installed_at, updated_at, status) VALUES (${values}, @at, @at, 'active')`;
    this.upsertRow = db.prepare(
      `${insert} ON CONFLICT (key) DO UPDATE SET ${merge}, updated_at = excluded.updated_at,
         status = 'active', gone_reason = NULL, gone_at = NULL
       RETURNING ${COLUMNS.map((c) => c.column).join(", ")}`,
    ).raw(true);
    this.insertRow = db.prepare(`${insert} ON CONFLICT (key) DO NOTHING`);
    this.selectRow = db.prepare(`${SELECT} WHERE key = ?`).raw(true);
    this.deleteRow = db.prepare("DELETE FROM targets WHERE key = ?");
    this.goneRow = db.prepare("UPDATE targets SET status = 'gone', gone_reason = ?, gone_at = ?, updated_at = ? WHERE key = ?");
    this.upsertTx = db.transaction((params: Record<string, unknown>) => {
      const created = this.selectRow.get(params.key) === undefined;
      return { row: this.upsertRow.get(params) as Row, created };
    });
  }

  async upsert(input: TargetInput): Promise<{ target: Target; created: boolean }> {
    const { row, created } = this.upsertTx.immediate(toParams(input));
    return { target: fromRow(row), created };
  }

  async insertIfAbsent(input: TargetInput): Promise<boolean> {
    return this.insertRow.run(toParams(input)).changes === 1;
  }

  async get(key: string): Promise<Target | undefined> {
    const row = this.selectRow.get(key) as Row | undefined;
    return row && fromRow(row);
  }

  async remove(key: string): Promise<boolean> {
    return this.deleteRow.run(key).changes === 1;
  }

  async markGone(key: string, reason: GoneReason, at?: string): Promise<boolean> {
    const stamp = at ?? nowIso();
    return this.goneRow.run(reason, stamp, stamp, key).changes === 1;
  }

  async list(query: TargetQuery, limit: number, cursor?: string): Promise<Page<Target>> {
    const after = decodeCursor(cursor, isString);
    const max = clampLimit(limit);
    const { sql, params, index } = where(query);
    const conditions = after === undefined ? sql : [...sql, "key > @after"];
    const from = index ? `${SELECT} INDEXED BY ${index}` : SELECT;
    const statement = this.query(`${from} ${clause(conditions)} ORDER BY key LIMIT @limit`, true);
    // One extra row tells whether another page follows, so the last page carries no cursor.
    const rows = statement.all({ ...params, after, limit: max + 1 }) as Row[];
    const items = rows.slice(0, max).map(fromRow);
    return rows.length > max ? { items, cursor: encodeCursor(items[items.length - 1]!.key) } : { items };
  }

  async count(query: TargetQuery): Promise<number> {
    const { sql, params, index } = where(query);
    const from = index ? `targets INDEXED BY ${index}` : "targets";
    return (this.query(`SELECT count(*) AS n FROM ${from} ${clause(sql)}`, false).get(params) as { n: number }).n;
  }

  /** Statements for the 16 filter combinations, prepared on first use. */
  private query(sql: string, raw: boolean): Database.Statement {
    let statement = this.queries.get(sql);
    if (!statement) this.queries.set(sql, (statement = this.db.prepare(sql).raw(raw)));
    return statement;
  }
}

function where(query: TargetQuery): { sql: string[]; params: Record<string, string>; index?: string } {
  const sql: string[] = [];
  const params: Record<string, string> = {};
  let index: string | undefined;
  for (const { prop, column, index: candidate } of FILTERS) {
    const value = query[prop];
    if (value === undefined) continue;
    sql.push(`${column} = @${prop}`);
    params[prop] = value;
    index ??= candidate;
  }
  return { sql, params, index };
}

function clause(conditions: string[]): string {
  return conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
}

function toParams(input: TargetInput): Record<string, unknown> {
  const params: Record<string, unknown> = { at: input.at ?? nowIso() };
  for (const c of INPUT_COLUMNS) {
    const value = input[c.prop];
    params[c.prop] = value === undefined ? null : "json" in c ? JSON.stringify(value) : value;
  }
  return params;
}

function fromRow(row: Row): Target {
  const target: Record<string, unknown> = {};
  for (let i = 0; i < COLUMNS.length; i++) {
    const value = row[i];
    const c = COLUMNS[i]!;
    if (value !== null && value !== undefined) target[c.prop] = "json" in c ? JSON.parse(value) : value;
  }
  return target as unknown as Target;
}
