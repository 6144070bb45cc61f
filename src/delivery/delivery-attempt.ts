/** One run of a delivery task: create the 1:1 it needs, or make the send (or channel thread) it is queued for. */
import type { Activity } from "botbuilder";
import type { DeliveryRecipient } from "../store/types";
import { observeRequest } from "./delivery-events";
import { recordSent, rememberPersonalConversation, settleFailure, settled } from "./delivery-outcome";
import type { DeliveryTask, EngineContext } from "./engine-context";
import { errorText } from "./engine-report";
import { sendKeys } from "./rate-keys";
import { classifyTeamsError } from "./teams-errors";

export async function runDelivery(ctx: EngineContext, task: DeliveryTask): Promise<void> {
  const aj = task.job;
  const d = task.delivery;
  const jobId = aj.job.id;
  if (aj.cancelled) return ctx.release(aj, 1);

  if (task.phase === "create") {
    const r = d.recipient;
    // The create is an attempt too (bounded like one), but the delivery stays "pending": creating a 1:1 is
    // idempotent in Teams, so an interrupted create costs nothing.
    await timedWrite(ctx, () => ctx.store.jobs.updateDelivery(jobId, d.recipientKey, { attemptsIncrement: 1 }));
    await ctx.dispatch.waitFor(task.plannedAt);
    d.attempts++;
    task.createAttempts++;
    let conversationId: string;
    try {
      conversationId = await observeRequest(ctx.events, { operation: "createConversation", tenantId: r.tenantId, jobId, recipientKey: d.recipientKey, attempt: d.attempts },
        () => ctx.connector.createPersonalConversation(r.tenantId, r.serviceUrl, r.userId!));
    } catch (err) {
      return settleFailure(ctx, task, classifyTeamsError(err));
    }
    await rememberPersonalConversation(ctx, r, conversationId);
    d.recipient = { ...r, conversationId };
    await ctx.store.jobs.updateDelivery(jobId, d.recipientKey, { recipient: d.recipient });
    if (aj.cancelled) return ctx.release(aj, 1);
    task.phase = "send";
    task.keys = sendKeys(r.tenantId, conversationId);
    task.notBefore = 0;
    ctx.queue.push(task, ctx.dispatch.now());
    return;
  }

  let activity: Partial<Activity>;
  try {
    activity = ctx.render(aj.job, d.recipient);
  } catch (err) {
    const reason = `could not render the card: ${errorText(err)}`;
    await ctx.store.jobs.updateDelivery(jobId, d.recipientKey, { status: "failed", reason });
    settled(ctx, task, { status: "failed", reason });
    return ctx.release(aj, 1);
  }

  // Record the attempt before making it: a crash from here until "sent" is stored is the duplicate window.
  // Only a delivery still "pending" may be sent: a cancel (on any instance) or a new owner wins the check-and-set.
  const marked = await timedWrite(ctx, () => ctx.store.jobs.updateDelivery(jobId, d.recipientKey, {
    status: "sending", attemptsIncrement: 1, ...(task.recipientDirty ? { recipient: d.recipient } : {}),
  }, "pending"));
  if (!marked) return ctx.release(aj, 1);
  // Leave at the planned instant, not whenever the write happened to finish (dispatch-clock.ts).
  await ctx.dispatch.waitFor(task.plannedAt);
  task.recipientDirty = false;
  d.attempts++;
  let activityId: string | undefined;
  let recipient: DeliveryRecipient | undefined;
  try {
    const r = d.recipient;
    const request = { tenantId: r.tenantId, jobId, recipientKey: d.recipientKey, attempt: d.attempts };
    if (task.phase === "thread") {
      const created = await observeRequest(ctx.events, { ...request, operation: "createThread" },
        () => ctx.connector.createChannelThread(r.serviceUrl, r.tenantId, r.teamId ?? r.newThreadInChannel!, r.newThreadInChannel!, activity));
      activityId = created.activityId;
      recipient = { ...r, conversationId: created.conversationId };
    } else {
      activityId = (await observeRequest(ctx.events, { ...request, operation: "send" },
        () => ctx.connector.sendActivity({ ...r, conversationId: r.conversationId! }, activity))).activityId;
    }
  } catch (err) {
    return settleFailure(ctx, task, classifyTeamsError(err));
  }
  await recordSent(ctx, task, activityId, recipient);
}

/** A write made between admission and request: its latency sets how far ahead the dispatcher plans. */
async function timedWrite<T>(ctx: EngineContext, write: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await write();
  } finally {
    ctx.dispatch.record(performance.now() - started);
  }
}
