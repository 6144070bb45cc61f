/**
 * Turns an audience into the list of deliveries of one job. Only active targets are picked, so targets
 * pruned as gone are skipped until they re-install or message Herald again. A person Herald cannot reach
 * becomes a `skipped` delivery with the reason — reported, never silently dropped.
 */
import type { DeliveryInput, DeliveryRecipient, HeraldStore, Member, Target, TargetQuery, UserRef } from "../store/types";
import { isTimeZone } from "../time-zone";
import type { Audience, TimeZoneFilter, UserRefInput } from "./notification-request";

export class AudienceError extends Error {
  override readonly name = "AudienceError";
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/** Proactive install through Graph for people who never installed Herald (optional). */
export interface PersonalChatInstaller {
  ensureInstalledForUser(user: string): Promise<{ chatId: string; status: string }>;
}

export interface AudienceDeps {
  store: HeraldStore;
  /** Channel ids of a team, to reject an unknown channel with a 400 (optional). */
  teamChannels?: (team: Target) => Promise<string[]>;
  /** Whether Graph installs are configured: the installing itself happens in the job, on the partition owner. */
  canInstall: boolean;
  /** Tenant to assume for Graph installs when the request names none. */
  defaultTenantId?: string;
  /** Teams' global service URL, used for a chat created through Graph when no other is known. */
  defaultServiceUrl: string;
  defaultTimeZone: string;
}

const PAGE = 1000;

export class AudienceResolver {
  constructor(private readonly deps: AudienceDeps) {}

  async resolve(audience: Audience | undefined, options: { installIfMissing?: boolean; timeZoneFilter?: TimeZoneFilter } = {}): Promise<DeliveryInput[]> {
    const resolved = await this.resolveAudience(audience ?? { kind: "all" }, options.installIfMissing ?? false);
    const unique = new Map<string, DeliveryInput>();
    for (const delivery of resolved) if (!unique.has(delivery.recipientKey)) unique.set(delivery.recipientKey, delivery);
    const deliveries = [...unique.values()];
    return options.timeZoneFilter ? deliveries.filter((d) => this.inZoneGroup(d, options.timeZoneFilter!)) : deliveries;
  }

  private inZoneGroup(delivery: DeliveryInput, filter: TimeZoneFilter): boolean {
    const zone = delivery.recipient.timeZone;
    if (!zone || !isTimeZone(zone)) return filter.includeUnknown;
    return filter.zones.includes(zone);
  }

  private async resolveAudience(audience: Audience, installIfMissing: boolean): Promise<DeliveryInput[]> {
    switch (audience.kind) {
      case "all":
        return this.fromTargets({ status: "active", tenantId: audience.tenantId });
      case "installations": {
        const lists = await Promise.all(audience.types.map((kind) => this.fromTargets({ status: "active", kind, tenantId: audience.tenantId })));
        return lists.flat();
      }
      case "conversations":
        return this.fromConversations(audience.conversationIds, audience.tenantId);
      case "teamMembers":
        return this.fromTeamMembers(await this.findTeam(audience.teamId, audience.tenantId));
      case "channelThread":
        return this.fromChannelThread(await this.findTeam(audience.teamId, audience.tenantId), audience.channelId);
      case "users":
        return this.fromUsers(audience.users, audience.tenantId, installIfMissing);
    }
  }

  private async fromTargets(query: TargetQuery): Promise<DeliveryInput[]> {
    const deliveries: DeliveryInput[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.targets.list(query, PAGE, cursor);
      for (const target of page.items) deliveries.push({ recipientKey: target.key, recipient: recipientOfTarget(target) });
      cursor = page.cursor;
    } while (cursor);
    return deliveries;
  }

  private async fromConversations(ids: string[], tenantId: string | undefined): Promise<DeliveryInput[]> {
    const deliveries: DeliveryInput[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      const key = id.startsWith("_") ? id : tenantId ? `_${tenantId}_${id}` : undefined;
      const target = key ? await this.deps.store.targets.get(key) : undefined;
      if (!target) unknown.push(id);
      else if (target.status === "active") deliveries.push({ recipientKey: target.key, recipient: recipientOfTarget(target) });
      else deliveries.push({ recipientKey: target.key, recipient: recipientOfTarget(target), status: "skipped", reason: `gone: ${target.goneReason}` });
    }
    if (unknown.length) {
      const hint = tenantId ? "" : " (give audience.tenantId, or use target keys from GET /api/targets)";
      throw new AudienceError("audience.conversationIds", `Herald is not installed in: ${unknown.slice(0, 10).join(", ")}${hint}`);
    }
    return deliveries;
  }

  private async findTeam(teamId: string, tenantId: string | undefined): Promise<Target> {
    const page = await this.deps.store.targets.list({ kind: "channel", teamId, tenantId, status: "active" }, 10);
    const team = page.items[0];
    if (!team) throw new AudienceError("audience.teamId", `Herald is not installed in team ${teamId}`);
    return team;
  }

  private async fromTeamMembers(team: Target): Promise<DeliveryInput[]> {
    const deliveries: DeliveryInput[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.members.listBySource(team.key, PAGE, cursor);
      for (const member of page.items) deliveries.push(personalDelivery(member, team.teamName));
      cursor = page.cursor;
    } while (cursor);
    return deliveries;
  }

  private async fromChannelThread(team: Target, channelId: string | undefined): Promise<DeliveryInput[]> {
    const channel = channelId ?? team.teamId ?? team.conversationId;
    if (channelId && this.deps.teamChannels) {
      const channels = await this.deps.teamChannels(team);
      if (!channels.includes(channelId)) throw new AudienceError("audience.channelId", `team ${team.teamId} has no channel ${channelId}`);
    }
    return [{
      recipientKey: `thread:${team.tenantId}:${channel}`,
      recipient: { ...recipientOfTarget(team), conversationId: undefined, newThreadInChannel: channel },
    }];
  }

  private async fromUsers(users: UserRefInput[], tenantId: string | undefined, installIfMissing: boolean): Promise<DeliveryInput[]> {
    const deliveries: DeliveryInput[] = [];
    const serviceUrls = new Map<string, string>();
    for (const ref of users) {
      const member = await this.deps.store.members.find(ref as UserRef, tenantId);
      if (member) {
        deliveries.push(personalDelivery(member));
        continue;
      }
      const label = describeRef(ref);
      const graphName = "aadObjectId" in ref ? ref.aadObjectId : "upn" in ref ? ref.upn : undefined;
      const tenant = tenantId ?? this.deps.defaultTenantId;
      if (installIfMissing && this.deps.canInstall && graphName && tenant) {
        // Installed in the job, by the partition's owner, paced; the request only records who to install for.
        deliveries.push(await this.toInstall(graphName, tenant, ref, serviceUrls));
        continue;
      }
      deliveries.push({
        recipientKey: `unknown:${tenant ?? "?"}:${label}`,
        recipient: { tenantId: tenant ?? "", serviceUrl: this.deps.defaultServiceUrl, ...("aadObjectId" in ref ? { aadObjectId: ref.aadObjectId } : {}) },
        status: "skipped",
        reason: `unreachable: ${this.whyUnreachable(ref, installIfMissing, tenant)}`,
      });
    }
    return deliveries;
  }

  private whyUnreachable(ref: UserRefInput, installIfMissing: boolean, tenant: string | undefined): string {
    if (!installIfMissing) return "Herald has never seen this user; install Herald for them or set installIfMissing";
    if (!this.deps.canInstall) return "Graph install is not configured (TEAMS_APP_CATALOG_ID)";
    if ("userId" in ref) {
      return `Herald has never seen Teams user ${ref.userId}, and installing Herald through Graph needs the person's Entra object id ` +
        "or UPN, which a Teams user id does not give: name them by {\"aadObjectId\"} or {\"upn\"}";
    }
    if (!tenant) return "installing Herald through Graph needs the tenant: give audience.tenantId (or set HERALD_GRAPH_TENANT_ID)";
    return "Herald has never seen this user";
  }

  private async toInstall(user: string, tenantId: string, ref: UserRefInput, serviceUrls: Map<string, string>): Promise<DeliveryInput> {
    // Service URLs are regional; a conversation already known in the tenant tells which region serves it.
    let serviceUrl = serviceUrls.get(tenantId);
    if (!serviceUrl) {
      const known = (await this.deps.store.targets.list({ tenantId, status: "active" }, 1)).items[0];
      serviceUrls.set(tenantId, (serviceUrl = known?.serviceUrl ?? this.deps.defaultServiceUrl));
    }
    const recipient: DeliveryRecipient = {
      tenantId, serviceUrl, installFor: user, ...("aadObjectId" in ref ? { aadObjectId: ref.aadObjectId } : {}),
    };
    return { recipientKey: `graph:${tenantId}:${user.toLowerCase()}`, recipient };
  }
}

export function recipientOfTarget(target: Target): DeliveryRecipient {
  return {
    tenantId: target.tenantId,
    serviceUrl: target.serviceUrl,
    conversationId: target.conversationId,
    targetKey: target.key,
    ...(target.userId ? { userId: target.userId } : {}),
    ...(target.aadObjectId ? { aadObjectId: target.aadObjectId } : {}),
    ...(target.teamId ? { teamId: target.teamId } : {}),
    ...(target.timeZone ? { timeZone: target.timeZone } : {}),
    ...((target.kind === "personal" ? target.name : target.teamName ?? target.name) ? { name: target.kind === "personal" ? target.name : target.teamName ?? target.name } : {}),
  };
}

/** A person's 1:1; skipped with the reason when Teams said their 1:1 chat with Herald is gone (blocked, uninstalled). */
function personalDelivery(member: Member, teamName?: string): DeliveryInput {
  const delivery = personalRecipient(member, teamName);
  if (!member.personalChatGone) return delivery;
  return {
    ...delivery, status: "skipped",
    reason: `gone: ${member.personalChatGone} (their 1:1 chat with Herald is gone; installing Herald again or messaging it clears this)`,
  };
}

function personalRecipient(member: Member, teamName?: string): DeliveryInput {
  return {
    recipientKey: `user:${member.tenantId}:${member.userId}`,
    recipient: {
      tenantId: member.tenantId,
      serviceUrl: member.serviceUrl,
      userId: member.userId,
      ...(member.personalConversationId ? { conversationId: member.personalConversationId } : {}),
      ...(member.aadObjectId ? { aadObjectId: member.aadObjectId } : {}),
      ...(member.timeZone ? { timeZone: member.timeZone } : {}),
      ...(teamName ?? member.name ? { name: teamName ?? member.name } : {}),
    },
  };
}

function describeRef(ref: UserRefInput): string {
  if ("aadObjectId" in ref) return `aad:${ref.aadObjectId}`;
  if ("upn" in ref) return `upn:${ref.upn.toLowerCase()}`;
  return `uid:${ref.userId}`;
}
