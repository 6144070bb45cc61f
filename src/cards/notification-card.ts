/**
 * Turns a job into the message one recipient sees. Microsoft's guidance for notifications: say what happened,
 * the result, who or what triggered it, what the person can do, and how to opt out. The template carries the
 * first two (and the action); this module adds "why you get this", "sent by" and a "Stop these" button to
 * every card, whichever template the caller chose — and, when the notification asks for it, an Acknowledge
 * button. Every view of one notification (as sent, as a reminder, as acknowledged) comes from the same
 * function, so they differ only where they must.
 */
import { CardFactory, type Activity } from "botbuilder";
import type { DeliveryRecipient, Job } from "../store/types";
import { acknowledgeAction, acknowledgedBlock, type Acknowledgement } from "./acknowledge";
import { renderTemplate, type AdaptiveCard } from "./render";

/** Which view of the notification to render. */
export interface CardView {
  /** A reminder (`POST …/remind`): the title says so. */
  reminder?: boolean;
  /** Refreshed for the person who acknowledged: says when and by whom, and has no Acknowledge button. */
  acknowledged?: Acknowledgement;
}

export const REMINDER_PREFIX = "Reminder: ";

/** The value an Action.Submit "Stop these" button posts back to the bot. */
export interface OptOutAction {
  herald: "optout";
  category: string;
}

export function whyYouGetThis(job: Job, recipient: DeliveryRecipient): string {
  const audienceKind = typeof job.audience.kind === "string" ? job.audience.kind : "all";
  const team = recipient.teamId ? (recipient.name ? `the team ${recipient.name}` : "this team") : undefined;
  switch (audienceKind) {
    case "teamMembers":
      return `You get this because you are a member of ${recipient.name ? `the team ${recipient.name}` : "a team"} that Herald notifies.`;
    case "users":
      return "You get this because you were chosen as a recipient of this notification.";
    case "channelThread":
      return `Posted here because Herald is installed in ${team ?? "this team"}.`;
    default:
      if (recipient.newThreadInChannel || (recipient.teamId && !recipient.userId)) return `Posted here because Herald is installed in ${team ?? "this team"}.`;
      if (recipient.userId) return "You get this because Herald is installed in your personal chat.";
      return "Posted here because Herald was added to this chat.";
  }
}

function footer(job: Job, recipient: DeliveryRecipient, category: string): unknown[] {
  const sentAt = new Date(job.createdAt).toUTCString().replace(" GMT", " UTC");
  return [
    {
      type: "Container",
      separator: true,
      spacing: "Medium",
      items: [
        { type: "TextBlock", text: `Sent by ${job.triggeredBy} · ${sentAt}`, isSubtle: true, size: "Small", wrap: true },
        { type: "TextBlock", text: `${whyYouGetThis(job, recipient)} Not interested? Choose "Stop these" or reply "stop".`, isSubtle: true, size: "Small", wrap: true },
      ],
    },
    {
      type: "ActionSet",
      actions: [{ type: "Action.Submit", title: "Stop these", data: { herald: "optout", category } satisfies OptOutAction }],
    },
  ];
}

export function buildNotificationCard(job: Job, recipient: DeliveryRecipient, view: CardView = {}): AdaptiveCard {
  const { content } = job;
  const templateName = content.card?.template ?? "notification";
  const data: Record<string, unknown> = { title: content.title, text: content.text, url: content.url ?? "", facts: [], ...(content.card?.data ?? {}) };
  if (view.reminder) data.title = `${REMINDER_PREFIX}${String(data.title ?? content.title)}`;
  const card = renderTemplate(templateName, data);
  const status = view.acknowledged ? [acknowledgedBlock(view.acknowledged)] : [];
  card.body = [...(card.body ?? []), ...status, ...footer(job, recipient, job.category ?? "general")];
  if (content.acknowledge && !view.acknowledged) card.actions = [acknowledgeAction(job.id), ...(card.actions ?? [])];
  return card;
}

/** The activity the engine sends: the card, plus text fallbacks for notifications and screen readers. */
export function renderNotificationActivity(job: Job, recipient: DeliveryRecipient): Partial<Activity> {
  return cardActivity(job.content.title, buildNotificationCard(job, recipient));
}

/** The same notification sent again to those who have not acknowledged it. */
export function renderReminderActivity(job: Job, recipient: DeliveryRecipient): Partial<Activity> {
  return cardActivity(`${REMINDER_PREFIX}${job.content.title}`, buildNotificationCard(job, recipient, { reminder: true }));
}

/** The person's copy as it reads once they acknowledged (for an update of that copy). */
export function renderAcknowledgedActivity(job: Job, recipient: DeliveryRecipient, acknowledgement: Acknowledgement): Partial<Activity> {
  return cardActivity(job.content.title, buildNotificationCard(job, recipient, { acknowledged: acknowledgement }));
}

function cardActivity(summary: string, card: AdaptiveCard): Partial<Activity> {
  return { type: "message", summary, attachments: [CardFactory.adaptiveCard(card)] };
}
