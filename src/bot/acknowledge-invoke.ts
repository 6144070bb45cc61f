/**
 * A person pressed Acknowledge (Action.Execute, verb "acknowledge"): record on their delivery who acknowledged
 * and when — once; pressing again changes nothing — and answer with the card as it now reads for them
 * ("Acknowledged at … by …"), which Teams shows in place of the pressed one. No request to Teams is made here:
 * the answer is the invoke's own response, so any instance can handle it.
 *
 * Which delivery: the one whose recipient key the invoke points at — the conversation it came from (a personal
 * chat, group chat or channel Herald is installed in), or the person (`user:` for team members and chosen
 * people, `graph:` for people Herald was installed for). A reminder records on the reminder's delivery and on
 * the original notification's, which is the one the report and `remind` count.
 */
import type { Activity, AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue } from "botbuilder";
import { buildNotificationCard } from "../cards/notification-card";
import { cardInvokeResponse, messageInvokeResponse, parseAcknowledgeAction } from "../cards/acknowledge";
import { baseThreadId } from "../delivery/rate-keys";
import type { Logger } from "../logger";
import type { Delivery, HeraldStore, Job } from "../store/types";
import { targetKey } from "../store/types";
import { tenantOf } from "./activity-info";

export async function answerAcknowledge(
  store: HeraldStore, activity: Activity, value: AdaptiveCardInvokeValue, logger: Logger, now: () => Date = () => new Date(),
): Promise<AdaptiveCardInvokeResponse | undefined> {
  const press = parseAcknowledgeAction(value);
  if (!press) return undefined;
  const job = await store.jobs.getJob(press.notificationId);
  if (!job) return messageInvokeResponse("This notification no longer exists, so there is nothing to acknowledge.");
  if (job.retractedAt) return messageInvokeResponse("This notification was withdrawn by its sender.");
  const tenantId = tenantOf(activity) ?? "";
  const keys = candidateKeys(activity, tenantId);
  const delivery = await firstDelivery(store, job.id, keys);
  if (!delivery) {
    logger.warn({ notificationId: job.id, conversation: activity.conversation?.id }, "acknowledge: no delivery of this notification here");
    return messageInvokeResponse("Herald could not find this notification in this chat, so nothing was recorded.");
  }
  const by = activity.from?.name || "someone";
  const personal = !delivery.recipient.conversationId || activity.conversation?.conversationType === "personal";
  let at = now().toISOString();
  let who = by;
  if (delivery.acknowledgedAt) {
    // Pressed again (or on another device): the first acknowledgement stands. In a shared chat it was perhaps
    // someone else's; this person still sees their own confirmation.
    if (personal) ({ at, who } = { at: delivery.acknowledgedAt, who: delivery.acknowledgedBy ?? by });
  } else {
    await record(store, job, delivery.recipientKey, at, by);
  }
  const card = buildNotificationCard(job, delivery.recipient, {
    reminder: job.kind === "reminder",
    acknowledged: { at, by: who, ...(activity.localTimezone ? { timeZone: activity.localTimezone } : delivery.recipient.timeZone ? { timeZone: delivery.recipient.timeZone } : {}) },
  });
  logger.info({ notificationId: job.id, parentId: job.parentId, recipientKey: delivery.recipientKey }, "acknowledged");
  return cardInvokeResponse(card);
}

/** On the delivery pressed, and for a reminder on the original notification's delivery of the same recipient. */
async function record(store: HeraldStore, job: Job, recipientKey: string, at: string, by: string): Promise<void> {
  await store.jobs.updateDelivery(job.id, recipientKey, { acknowledgedAt: at, acknowledgedBy: by });
  if (job.parentId) {
    const original = await store.jobs.getDelivery(job.parentId, recipientKey);
    if (original && !original.acknowledgedAt) await store.jobs.updateDelivery(job.parentId, recipientKey, { acknowledgedAt: at, acknowledgedBy: by });
  }
}

/** The recipient keys the audience resolver would have given this conversation or this person. */
function candidateKeys(activity: Activity, tenantId: string): string[] {
  const conversationId = activity.conversation?.id ?? "";
  const thread = baseThreadId(conversationId);
  const keys = [targetKey(tenantId, conversationId)];
  if (thread !== conversationId) keys.push(targetKey(tenantId, thread), `thread:${tenantId}:${thread}`);
  if (activity.from?.id) keys.push(`user:${tenantId}:${activity.from.id}`);
  if (activity.from?.aadObjectId) keys.push(`graph:${tenantId}:${activity.from.aadObjectId.toLowerCase()}`);
  return keys;
}

async function firstDelivery(store: HeraldStore, jobId: string, keys: string[]): Promise<Delivery | undefined> {
  for (const key of keys) {
    const delivery = await store.jobs.getDelivery(jobId, key);
    if (delivery) return delivery;
  }
  return undefined;
}
