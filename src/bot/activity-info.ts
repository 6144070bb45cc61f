/**
 * What an incoming Teams activity says about where Herald may post and who is there. Teams puts the time
 * zone on messages (`localTimezone`) and in the clientInfo entity; installs often carry neither.
 */
import { TurnContext, type Activity } from "botbuilder";
import { isTimeZone } from "../time-zone";
import { targetKey, type TargetInput, type TargetKind } from "../store/types";

interface TeamsChannelData {
  tenant?: { id?: string };
  team?: { id?: string; name?: string; aadGroupId?: string };
  channel?: { id?: string; name?: string };
  eventType?: string;
}

export function channelData(activity: Partial<Activity>): TeamsChannelData {
  return (activity.channelData ?? {}) as TeamsChannelData;
}

export function tenantOf(activity: Partial<Activity>): string | undefined {
  return activity.conversation?.tenantId ?? channelData(activity).tenant?.id;
}

export function timeZoneOf(activity: Partial<Activity>): string | undefined {
  const fromEntity = activity.entities?.find((e) => e.type === "clientInfo")?.timezone as string | undefined;
  const zone = activity.localTimezone ?? fromEntity;
  return zone && isTimeZone(zone) ? zone : undefined;
}

export function localeOf(activity: Partial<Activity>): string | undefined {
  return activity.locale ?? (activity.entities?.find((e) => e.type === "clientInfo")?.locale as string | undefined);
}

function kindOf(conversationType: string | undefined): TargetKind | undefined {
  return conversationType === "personal" || conversationType === "groupChat" || conversationType === "channel" ? conversationType : undefined;
}

/**
 * The target this activity's conversation is, keyed exactly as TeamsFx keys it (for a message in a team's
 * General channel TeamsFx files it under the team id, so do we). Undefined when it is not a Teams conversation.
 */
export function targetFromActivity(activity: Activity, extra: { installedBy?: string } = {}): TargetInput | undefined {
  const reference = TurnContext.getConversationReference(activity);
  const kind = kindOf(activity.conversation?.conversationType);
  const tenantId = tenantOf(activity);
  if (!kind || !tenantId || !reference.conversation?.id || !activity.serviceUrl) return undefined;
  const data = channelData(activity);
  let conversationId = reference.conversation.id;
  // A team is one target, its General channel (whose id is the team id), as TeamsFx records it: a message in
  // another channel, or in a reply chain ("...;messageid=..."), must not add a target per channel.
  if (kind === "channel" && data.team?.id) conversationId = data.team.id;
  const isPersonal = kind === "personal";
  return {
    key: targetKey(tenantId, conversationId),
    kind,
    tenantId,
    conversationId,
    serviceUrl: activity.serviceUrl,
    reference: { ...reference, conversation: { ...reference.conversation, id: conversationId, tenantId } },
    ...(data.team?.id ? { teamId: data.team.id } : {}),
    ...(data.team?.name ? { teamName: data.team.name } : {}),
    ...(data.channel?.id ? { channelId: data.channel.id } : {}),
    ...(isPersonal ? { userId: activity.from?.id } : {}),
    ...(isPersonal && activity.from?.aadObjectId ? { aadObjectId: activity.from.aadObjectId } : {}),
    ...(isPersonal && activity.from?.name ? { name: activity.from.name } : {}),
    ...(!isPersonal && activity.conversation?.name ? { name: activity.conversation.name } : {}),
    ...(timeZoneOf(activity) ? { timeZone: timeZoneOf(activity) } : {}),
    ...(localeOf(activity) ? { locale: localeOf(activity) } : {}),
    ...(extra.installedBy ? { installedBy: extra.installedBy } : {}),
  };
}
