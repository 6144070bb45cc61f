/**
 * Builders for the activities Teams posts to a bot's /api/messages, copied from real payloads: channelId
 * "msteams", accounts with aadObjectId, typed conversations with tenantId, channelData with tenant/team/
 * channel/eventType, clientInfo entities, localTimezone/localTimestamp on messages.
 */
import type { SeededGroupChat, SeededTeam, SeededUser } from "./types";

export type Activity = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Where an activity happens: a user's 1:1, a group chat, a team (its General channel) or a channel/thread. */
export type ConversationTarget =
  | SeededUser
  | SeededGroupChat
  | SeededTeam
  | { team: SeededTeam; channelId: string; messageId?: string };

export interface BotIdentity {
  botId: string;
  botName: string;
  serviceUrl: string;
}

export function isUser(t: ConversationTarget): t is SeededUser {
  return "personalConversationId" in t;
}
export function isTeam(t: ConversationTarget): t is SeededTeam {
  return "channels" in t && "aadGroupId" in t;
}
export function isChannelRef(t: ConversationTarget): t is { team: SeededTeam; channelId: string; messageId?: string } {
  return "team" in t && "channelId" in t;
}

export function botAccount(bot: BotIdentity): { id: string; name: string } {
  return { id: `28:${bot.botId}`, name: bot.botName };
}

export function userAccount(u: SeededUser): { id: string; name: string; aadObjectId: string } {
  return { id: u.id, name: u.name, aadObjectId: u.aadObjectId };
}

/** conversation + channelData for a target. */
export function conversationOf(target: ConversationTarget): { conversation: Activity; channelData: Activity; team?: SeededTeam } {
  if (isUser(target)) {
    return {
      conversation: { conversationType: "personal", tenantId: target.tenantId, id: target.personalConversationId },
      channelData: { tenant: { id: target.tenantId } },
    };
  }
  if (isTeam(target) || isChannelRef(target)) {
    const team = isTeam(target) ? target : target.team;
    const channelId = isTeam(target) ? target.id : target.channelId;
    const messageId = isChannelRef(target) ? target.messageId : undefined;
    return {
      team,
      conversation: {
        isGroup: true,
        conversationType: "channel",
        tenantId: team.tenantId,
        id: messageId ? `${channelId};messageid=${messageId}` : channelId,
      },
      channelData: {
        teamsChannelId: channelId,
        teamsTeamId: team.id,
        channel: { id: channelId },
        team: { id: team.id, name: team.name, aadGroupId: team.aadGroupId },
        tenant: { id: team.tenantId },
      },
    };
  }
  return {
    conversation: { isGroup: true, conversationType: "groupChat", tenantId: target.tenantId, id: target.id },
    channelData: { tenant: { id: target.tenantId } },
  };
}

export function clientInfo(u: SeededUser | undefined, timeZone?: string): Activity {
  return {
    type: "clientInfo",
    locale: u?.locale ?? "en-US",
    country: u?.country ?? "US",
    platform: "Windows",
    timezone: timeZone ?? u?.timeZone ?? "Europe/Berlin",
  };
}

/** "2026-03-10T09:15:00.123+01:00": the instant as wall-clock time in `timeZone`, with its UTC offset. */
export function localTimestamp(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wallMs = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"), at.getUTCMilliseconds());
  const offsetMin = Math.round((wallMs - at.getTime()) / 60_000);
  const sign = offsetMin < 0 ? "-" : "+";
  const abs = Math.abs(offsetMin);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const wall = new Date(wallMs).toISOString().slice(0, 23);
  return `${wall}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The parts every activity from Teams carries. */
export function envelope(bot: BotIdentity, type: string, id: string, at: Date, target: ConversationTarget, from: SeededUser | undefined): Activity {
  const { conversation, channelData } = conversationOf(target);
  return {
    type,
    id,
    timestamp: at.toISOString(),
    channelId: "msteams",
    serviceUrl: bot.serviceUrl,
    // Teams always names the acting user; without one we use a placeholder system account.
    from: from ? userAccount(from) : { id: "29:1teams-system", name: "Microsoft Teams" },
    conversation,
    recipient: botAccount(bot),
    channelData,
    locale: from?.locale ?? "en-US",
  };
}
