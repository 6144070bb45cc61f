/**
 * What the emulated Teams knows: users, teams, and the conversations the bot may post into.
 * Lookups are Map-based so thousands of tenants and users cost O(1) per request.
 */
import { baseThreadId } from "./faults";
import { personalConversationIdFor, seedTenant } from "./seed";
import type { KnownConversation, SeededTeam, SeededTenant, SeededUser, TenantSpec } from "./types";

/** The roster entry shape Teams returns (botbuilder's TeamsChannelAccount). */
export interface TeamsChannelAccount {
  id: string;
  name: string;
  aadObjectId: string;
  userPrincipalName: string;
  email: string;
  givenName: string;
  surname: string;
  tenantId: string;
  userRole: "user";
}

export function toChannelAccount(u: SeededUser): TeamsChannelAccount {
  return {
    id: u.id,
    name: u.name,
    aadObjectId: u.aadObjectId,
    userPrincipalName: u.userPrincipalName,
    email: u.email,
    givenName: u.givenName,
    surname: u.surname,
    tenantId: u.tenantId,
    userRole: "user",
  };
}

export class TenantDirectory {
  private readonly tenants = new Map<string, SeededTenant>();
  /** Teams user ids are globally unique (they embed the tenant), so one map serves every tenant. */
  private readonly usersById = new Map<string, SeededUser>();
  private readonly usersByAad = new Map<string, SeededUser>();
  private readonly teams = new Map<string, SeededTeam>();
  private readonly conversations = new Map<string, KnownConversation>();

  seed(specOrTenant: TenantSpec | SeededTenant): SeededTenant {
    const tenant = Array.isArray((specOrTenant as SeededTenant).users)
      ? (specOrTenant as SeededTenant)
      : seedTenant(specOrTenant as TenantSpec);
    const previous = this.tenants.get(tenant.tenantId);
    this.tenants.set(tenant.tenantId, previous ? mergeTenants(previous, tenant) : tenant);
    for (const u of tenant.users) {
      this.usersById.set(u.id, u);
      this.usersByAad.set(`${u.tenantId}|${u.aadObjectId}`, u);
      this.register({ id: u.personalConversationId, tenantId: u.tenantId, kind: "personal", userId: u.id });
    }
    for (const t of tenant.teams) {
      this.teams.set(t.id, t);
      for (const c of t.channels) this.register({ id: c.id, tenantId: t.tenantId, kind: "channel", teamId: t.id });
    }
    for (const g of tenant.groupChats) {
      this.register({ id: g.id, tenantId: g.tenantId, kind: "groupChat", memberIds: g.memberIds });
    }
    return tenant;
  }

  register(conversation: KnownConversation): void {
    this.conversations.set(conversation.id, conversation);
  }

  /** Exact id, else the thread's channel (any ";messageid=" reply in a known channel is known). */
  resolve(conversationId: string): KnownConversation | undefined {
    return this.conversations.get(conversationId) ?? this.conversations.get(baseThreadId(conversationId));
  }

  /** By Teams id (29:...), or by AAD object id within a tenant. */
  findUser(idOrAad: string, tenantId?: string): SeededUser | undefined {
    const u = this.usersById.get(idOrAad);
    if (u) return tenantId && u.tenantId !== tenantId ? undefined : u;
    if (tenantId) return this.usersByAad.get(`${tenantId}|${idOrAad}`);
    return undefined;
  }

  team(teamId: string): SeededTeam | undefined {
    return this.teams.get(teamId);
  }

  tenant(tenantId: string): SeededTenant | undefined {
    return this.tenants.get(tenantId);
  }

  allTenants(): SeededTenant[] {
    return [...this.tenants.values()];
  }

  /** The 1:1 conversation for a user, registering it (Teams "creates" it idempotently). */
  personalConversation(tenantId: string, userId: string): KnownConversation {
    const id = this.findUser(userId, tenantId)?.personalConversationId ?? personalConversationIdFor(tenantId, userId);
    const existing = this.conversations.get(id);
    if (existing) return existing;
    const created: KnownConversation = { id, tenantId, kind: "personal", userId };
    this.register(created);
    return created;
  }

  /** Roster of a conversation, in stable order. Unknown member ids are returned as bare accounts. */
  members(conversation: KnownConversation): TeamsChannelAccount[] {
    let ids: string[];
    if (conversation.memberIds) ids = conversation.memberIds;
    else if (conversation.teamId) ids = this.teams.get(conversation.teamId)?.memberIds ?? [];
    else if (conversation.userId) ids = [conversation.userId];
    else ids = [];
    return ids.map((id) => {
      const u = this.usersById.get(id);
      return u ? toChannelAccount(u) : bareAccount(id, conversation.tenantId);
    });
  }
}

function bareAccount(id: string, tenantId: string): TeamsChannelAccount {
  return { id, name: id, aadObjectId: "", userPrincipalName: "", email: "", givenName: "", surname: "", tenantId, userRole: "user" };
}

/** Seeding the same tenant twice adds to it (e.g. a second batch of teams). */
function mergeTenants(a: SeededTenant, b: SeededTenant): SeededTenant {
  const byId = <T extends { id: string }>(x: T[], y: T[]) => [...new Map([...x, ...y].map((v) => [v.id, v])).values()];
  return { tenantId: a.tenantId, users: byId(a.users, b.users), teams: byId(a.teams, b.teams), groupChats: byId(a.groupChats, b.groupChats) };
}
