/**
 * What an incoming Teams activity says about where Herald may post and who is there. Teams puts the time
 * zone on messages (`localTimezone`) and in the clientInfo entity; installs often carry neither.
 */
import { TurnContext, type Activity, type ConversationAccount } from "botbuilder";
import { isTimeZone } from "../time-zone";
import { targetInputFromReference } from "../store/target-from-reference";
import type { TargetInput } from "../store/types";

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

/**
 * The target this activity's conversation is, keyed exactly as TeamsFx keys it. A team is one target, its
 * General channel (whose id is the team id), as TeamsFx records it: a message in another channel or in a reply
 * chain must not add a target per channel. Undefined when it is not a Teams conversation Herald can post to.
 */
export function targetFromActivity(activity: Activity, extra: { installedBy?: string } = {}): TargetInput | undefined {
  const reference = TurnContext.getConversationReference(activity);
  const data = channelData(activity);
  const tenantId = tenantOf(activity);
  const isChannel = activity.conversation?.conversationType === "channel";
  if (isChannel && data.team?.id) reference.conversation = { ...reference.conversation, id: data.team.id } as ConversationAccount;
  const zone = timeZoneOf(activity);
  const locale = localeOf(activity);
  const input = targetInputFromReference(reference, {
    ...(tenantId ? { tenantId } : {}),
    ...(isChannel && data.team?.name ? { teamName: data.team.name } : {}),
    ...(zone ? { timeZone: zone } : {}),
    ...(locale ? { locale } : {}),
    ...(extra.installedBy ? { installedBy: extra.installedBy } : {}),
  });
  if ("error" in input) return undefined;
  input.reference.conversation = { ...input.reference.conversation!, tenantId: input.tenantId } as ConversationAccount;
  return input;
}
