import type Database from "better-sqlite3";
import type { GoneReason, Member, MemberInput, MemberStore, Page, UserRef } from "../types";
import { clampLimit, decodeCursor, encodeCursor, isString, nowIso } from "./cursor";
import { SqliteMemberSearch } from "./sqlite-member-search";

interface Row {
  tenant_id: string;
  user_id: string;
  aad_object_id: string | null;
  upn: string | null;
  email: string | null;
  name: string | null;
  service_url: string;
  personal_conversation_id: string | null;
  time_zone: string | null;
  personal_chat_gone?: string | null;
  personal_chat_gone_at?: string | null;
  updated_at: string;
}

export class SqliteMemberStore implements MemberStore {
  private readonly upsertMembersTx: Database.Transaction<(sourceKey: string, members: MemberInput[]) => void>;
  private readonly deleteMembership: Database.Statement;
  private readonly deleteSource: Database.Statement;
  private readonly findBy: Record<"aad" | "upn" | "user", { any: Database.Statement; inTenant: Database.Statement }>;
  private readonly selectMember: Database.Statement;
  private readonly selectBySource: Database.Statement;
  private readonly selectBySourceAfter: Database.Statement;
  private readonly countSource: Database.Statement;
  private readonly setPersonal: Database.Statement;
  private readonly setGone: Database.Statement;
  private readonly removeMembershipTx: Database.Transaction<(sourceKey: string, userIds: string[]) => void>;
  private readonly searchIndex: SqliteMemberSearch;
  private readonly removePersonTx: Database.Transaction<(tenantId: string, userId: string) => boolean>;

  constructor(db: Database.Database) {
    this.searchIndex = new SqliteMemberSearch(db);
    const upsertMember = db.prepare(`
      INSERT INTO members (tenant_id, user_id, aad_object_id, upn, email, name, service_url, personal_conversation_id, time_zone, updated_at)
      VALUES (@tenantId, @userId, @aadObjectId, @upn, @email, @name, @serviceUrl, @personalConversationId, @timeZone, @updatedAt)
      ON CONFLICT (tenant_id, user_id) DO UPDATE SET
        aad_object_id = COALESCE(excluded.aad_object_id, aad_object_id),
        upn = COALESCE(excluded.upn, upn),
        email = COALESCE(excluded.email, email),
        name = COALESCE(excluded.name, name),
        service_url = excluded.service_url,
        personal_conversation_id = COALESCE(excluded.personal_conversation_id, personal_conversation_id),
        time_zone = COALESCE(excluded.time_zone, time_zone),
        personal_chat_gone = CASE WHEN excluded.personal_conversation_id IS NULL THEN personal_chat_gone END,
        personal_chat_gone_at = CASE WHEN excluded.personal_conversation_id IS NULL THEN personal_chat_gone_at END,
        updated_at = excluded.updated_at`);
    const insertMembership = db.prepare(
      "INSERT INTO memberships (source_key, user_id, tenant_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
    );
    this.upsertMembersTx = db.transaction((sourceKey: string, members: MemberInput[]) => {
      const updatedAt = nowIso();
      for (const m of members) {
        upsertMember.run({
          tenantId: m.tenantId,
          userId: m.userId,
          aadObjectId: m.aadObjectId ?? null,
          upn: m.upn?.toLowerCase() ?? null,
          email: m.email ?? null,
          name: m.name ?? null,
          serviceUrl: m.serviceUrl,
          personalConversationId: m.personalConversationId ?? null,
          timeZone: m.timeZone ?? null,
          updatedAt,
        });
        insertMembership.run(sourceKey, m.userId, m.tenantId);
      }
    });
    this.deleteMembership = db.prepare("DELETE FROM memberships WHERE source_key = ? AND user_id = ?");
    this.removeMembershipTx = db.transaction((sourceKey: string, userIds: string[]) => {
      for (const userId of userIds) this.deleteMembership.run(sourceKey, userId);
    });
    this.deleteSource = db.prepare("DELETE FROM memberships WHERE source_key = ?");
    const lookup = (column: string) => ({
      any: db.prepare(`SELECT * FROM members WHERE ${column} = ? LIMIT 1`),
      inTenant: db.prepare(`SELECT * FROM members WHERE ${column} = ? AND tenant_id = ? LIMIT 1`),
    });
    this.findBy = { aad: lookup("aad_object_id"), upn: lookup("upn"), user: lookup("user_id") };
    this.selectMember = db.prepare("SELECT * FROM members WHERE tenant_id = ? AND user_id = ?");
    const bySource = (after: string) => db.prepare(`
      SELECT m.* FROM memberships s JOIN members m ON m.tenant_id = s.tenant_id AND m.user_id = s.user_id
      WHERE s.source_key = @source ${after} ORDER BY s.user_id LIMIT @limit`);
    this.selectBySource = bySource("");
    this.selectBySourceAfter = bySource("AND s.user_id > @after");
    this.countSource = db.prepare("SELECT count(*) AS n FROM memberships WHERE source_key = ?");
    const deletePersonMemberships = db.prepare("DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?");
    const deletePerson = db.prepare("DELETE FROM members WHERE tenant_id = ? AND user_id = ?");
    this.removePersonTx = db.transaction((tenantId: string, userId: string) => {
      deletePersonMemberships.run(tenantId, userId);
      return deletePerson.run(tenantId, userId).changes > 0;
    });
    this.setPersonal = db.prepare(
      "UPDATE members SET personal_conversation_id = ?, personal_chat_gone = NULL, personal_chat_gone_at = NULL, updated_at = ? WHERE tenant_id = ? AND user_id = ?",
    );
    this.setGone = db.prepare(
      "UPDATE members SET personal_chat_gone = ?, personal_chat_gone_at = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?",
    );
  }

  async upsertMembers(sourceKey: string, members: MemberInput[]): Promise<void> {
    this.upsertMembersTx.immediate(sourceKey, members);
  }

  async removeMembership(sourceKey: string, userIds: string[]): Promise<void> {
    this.removeMembershipTx.immediate(sourceKey, userIds);
  }

  async removeSource(sourceKey: string): Promise<void> {
    this.deleteSource.run(sourceKey);
  }

  async find(ref: UserRef, tenantId?: string): Promise<Member | undefined> {
    const [lookup, value] =
      "aadObjectId" in ref ? [this.findBy.aad, ref.aadObjectId] :
      "upn" in ref ? [this.findBy.upn, ref.upn.toLowerCase()] :
      [this.findBy.user, ref.userId];
    const row = (tenantId === undefined ? lookup.any.get(value) : lookup.inTenant.get(value, tenantId)) as Row | undefined;
    return row && fromRow(row);
  }

  async get(tenantId: string, userId: string): Promise<Member | undefined> {
    const row = this.selectMember.get(tenantId, userId) as Row | undefined;
    return row && fromRow(row);
  }

  async listBySource(sourceKey: string, limit: number, cursor?: string): Promise<Page<Member>> {
    const after = decodeCursor(cursor, isString);
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const params = { source: sourceKey, after, limit: max + 1 };
    const rows = (after === undefined ? this.selectBySource.all(params) : this.selectBySourceAfter.all(params)) as Row[];
    const items = rows.slice(0, max).map(fromRow);
    return rows.length > max ? { items, cursor: encodeCursor(items[items.length - 1]!.userId) } : { items };
  }

  async countBySource(sourceKey: string): Promise<number> {
    return (this.countSource.get(sourceKey) as { n: number }).n;
  }

  async removePerson(tenantId: string, userId: string): Promise<boolean> {
    return this.removePersonTx.immediate(tenantId, userId);
  }

  async setPersonalConversation(tenantId: string, userId: string, conversationId: string): Promise<void> {
    // No member row yet: nothing to attach it to (the engine upserts the member first).
    this.setPersonal.run(conversationId, nowIso(), tenantId, userId);
  }

  async markPersonalChatGone(tenantId: string, userId: string, reason: GoneReason, at?: string): Promise<boolean> {
    const stamp = nowIso();
    return this.setGone.run(reason, at ?? stamp, stamp, tenantId, userId).changes === 1;
  }

  async search(tenantId: string, text: string, limit: number): Promise<Member[]> {
    return this.searchIndex.search(tenantId, text, clampLimit(limit, 50), fromRow);
  }
}

function fromRow(row: Row): Member {
  const m: Member = { tenantId: row.tenant_id, userId: row.user_id, serviceUrl: row.service_url, updatedAt: row.updated_at };
  if (row.aad_object_id !== null) m.aadObjectId = row.aad_object_id;
  if (row.upn !== null) m.upn = row.upn;
  if (row.email !== null) m.email = row.email;
  if (row.name !== null) m.name = row.name;
  if (row.personal_conversation_id !== null) m.personalConversationId = row.personal_conversation_id;
  if (row.time_zone !== null) m.timeZone = row.time_zone;
  if (row.personal_chat_gone) m.personalChatGone = row.personal_chat_gone as GoneReason;
  if (row.personal_chat_gone_at) m.personalChatGoneAt = row.personal_chat_gone_at;
  return m;
}
