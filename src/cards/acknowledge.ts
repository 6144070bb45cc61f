/**
 * The Acknowledge button — an Adaptive Card Universal Action (`Action.Execute`, verb "acknowledge") — and the
 * answer to pressing it. Teams posts an `adaptiveCard/action` invoke and shows the card the bot answers with
 * in place of the one the person pressed.
 *
 * No `refresh`/`userIds` on the card: Herald acknowledges per person, and almost every copy is a person's own
 * 1:1 chat. The invoke answer shows the acknowledged card at once; Teams keeps that answer only in the client
 * that asked, so making it last (another device, a reload) is an update of the person's own copy — one paced
 * request per acknowledgement — rather than `refresh`, which would make every client that shows the card call
 * the bot on every view, and is capped at 60 users per card in group chats and channels. In a shared chat or
 * channel each person pressing gets their own confirmation, and pressing again is harmless.
 */
import type { AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue } from "botbuilder";
import { isTimeZone } from "../time-zone";
import type { AdaptiveCard } from "./render";

export const ACKNOWLEDGE_VERB = "acknowledge";

/** The `data` of the Acknowledge button, posted back in the invoke. */
export interface AcknowledgeActionData {
  herald: "acknowledge";
  notificationId: string;
}

/** Who acknowledged, when, and the zone to tell the time in (the person's own, from their invoke). */
export interface Acknowledgement {
  at: string | Date;
  by: string;
  /** IANA zone; UTC when absent or unknown. */
  timeZone?: string;
}

export function acknowledgeAction(notificationId: string): Record<string, unknown> {
  return {
    type: "Action.Execute",
    title: "Acknowledge",
    verb: ACKNOWLEDGE_VERB,
    style: "positive",
    data: { herald: "acknowledge", notificationId } satisfies AcknowledgeActionData,
  };
}

/**
 * "Acknowledged at 14:02 on Tue, 10 Mar 2026 (Europe/Berlin) by Alex Wilber". A RichTextBlock's TextRun is never
 * read as markdown, so a display name shows exactly as it is.
 */
export function acknowledgedBlock(acknowledgement: Acknowledgement): Record<string, unknown> {
  return {
    type: "RichTextBlock",
    spacing: "Medium",
    inlines: [{ type: "TextRun", text: acknowledgedText(acknowledgement), color: "good", weight: "Bolder" }],
  };
}

export function acknowledgedText({ at, by, timeZone: zone }: Acknowledgement): string {
  const timeZone = zone && isTimeZone(zone) ? zone : "UTC";
  const date = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${String(at)}`);
  const part = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat("en-GB", { timeZone, ...options }).format(date);
  const time = part({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const day = part({ weekday: "short", day: "numeric", month: "short", year: "numeric" });
  return `Acknowledged at ${time} on ${day} (${timeZone}) by ${by}`;
}

/** The notification id of an Acknowledge press, or undefined when the invoke is some other action. */
export function parseAcknowledgeAction(value: AdaptiveCardInvokeValue | undefined): { notificationId: string } | undefined {
  const action = value?.action;
  if (action?.type !== "Action.Execute" || action.verb !== ACKNOWLEDGE_VERB) return undefined;
  const data = action.data as Partial<AcknowledgeActionData> | undefined;
  return typeof data?.notificationId === "string" && data.notificationId ? { notificationId: data.notificationId } : undefined;
}

/** The invoke answer that replaces the pressed card with `card`. */
export function cardInvokeResponse(card: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: "application/vnd.microsoft.card.adaptive", value: card as AdaptiveCardInvokeResponse["value"] };
}

/** The invoke answer that shows a short message instead (e.g. "this notification no longer exists"). */
export function messageInvokeResponse(text: string): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: "application/vnd.microsoft.activity.message", value: text as unknown as AdaptiveCardInvokeResponse["value"] };
}
