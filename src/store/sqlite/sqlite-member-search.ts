/**
 * The member directory's search index in SQLite: an FTS5 table over the members' names, UPNs and e-mails
 * (external content: it indexes `members` rows by rowid and stores nothing twice), kept current by triggers,
 * so the member store's writes need not know about it. Created here, like the inbox tables; an existing
 * database is indexed once when the table first appears.
 *
 * It follows `members` by rowid, so a VACUUM (which Herald never runs) would need
 * `INSERT INTO member_search(member_search) VALUES('rebuild')` after it.
 */
import type Database from "better-sqlite3";
import type { Member } from "../types";
import { compareByName, matchesQuery, queryWords } from "../search-words";

// Only the part of an address before '@' is searchable (see search-words.ts): the domain matches everyone.
const LOCAL = (column: string) => `CASE WHEN instr(${column}, '@') > 0 THEN substr(${column}, 1, instr(${column}, '@') - 1) ELSE ${column} END`;

const SCHEMA = `
  CREATE VIRTUAL TABLE member_search USING fts5(
    name, upn_local, email_local,
    content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3'
  );
  CREATE TRIGGER member_search_insert AFTER INSERT ON members BEGIN
    INSERT INTO member_search (rowid, name, upn_local, email_local) VALUES (new.rowid, new.name, ${LOCAL("new.upn")}, ${LOCAL("new.email")});
  END;
  CREATE TRIGGER member_search_update AFTER UPDATE OF name, upn, email ON members BEGIN
    DELETE FROM member_search WHERE rowid = old.rowid;
    INSERT INTO member_search (rowid, name, upn_local, email_local) VALUES (new.rowid, new.name, ${LOCAL("new.upn")}, ${LOCAL("new.email")});
  END;
  CREATE TRIGGER member_search_delete AFTER DELETE ON members BEGIN
    DELETE FROM member_search WHERE rowid = old.rowid;
  END;
  INSERT INTO member_search (rowid, name, upn_local, email_local)
    SELECT rowid, name, ${LOCAL("upn")}, ${LOCAL("email")} FROM members;
`;

export class SqliteMemberSearch {
  private readonly select: Database.Statement;

  constructor(db: Database.Database) {
    db.transaction(() => {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'member_search'").get();
      if (!exists) db.exec(SCHEMA);
    }).immediate();
    this.select = db.prepare(`
      SELECT m.* FROM member_search s JOIN members m ON m.rowid = s.rowid
      WHERE member_search MATCH @match AND m.tenant_id = @tenantId
      LIMIT @scan`);
  }

  /** Rows in `members` shape (snake_case); the member store maps them. */
  search<Row>(tenantId: string, text: string, limit: number, toMember: (row: Row) => Member): Member[] {
    const words = queryWords(text);
    if (!words.length) return [];
    // Every word as a prefix query: "ale"* AND "wil"*. Words are letters and digits only, so quoting is safe.
    const match = words.map((w) => `"${w}"*`).join(" AND ");
    const rows = this.select.all({ match, tenantId, scan: Math.max(limit, 1) * 20 }) as Row[];
    return rows.map(toMember).filter((m) => matchesQuery(m, words)).sort(compareByName).slice(0, limit);
  }
}
