/**
 * What happens after a Teams request: the outcome is stored, and a throttled or transient failure is retried
 * (the task goes back to the queue with `notBefore`) within the engine's limits. docs/delivery.md, "Retries".
 */
import { targetKey, type Delivery, type DeliveryRecipient, type HeraldStore } from "../store/types";
import { backoffDelayMs } from "./backoff";
import { isoNow, RESUMED_REASON, type DeliveryTask, type EngineContext } from "./engine-context";
import type { RateKey } from "./rate-limiter";
import { tenantKey } from "./rate-keys";
import { classifyTeamsError, describeFailure, type TeamsFailure } from "./teams-errors";

type DeliveryPatch = Parameters<HeraldStore["jobs"]["updateDelivery"]>[2];

/** Tell the observers that this task's delivery reached a final status. */
export function settled(ctx: EngineContext, task: DeliveryTask, outcome: Pick<Delivery, "status"> & Partial<Pick<Delivery, "reason" | "activityId" | "recipient">>): void {
  if (ctx.events.enabled) ctx.events.emit("onSettled", { job: task.job.job, delivery: { ...task.delivery, ...outcome } });
}

export async function recordSent(ctx: EngineContext, task: DeliveryTask, activityId: string | undefined, recipient?: DeliveryRecipient): Promise<void> {
  const d = task.delivery;
  const retried = d.attempts - d.throttled - task.createAttempts > 1 || d.reason === RESUMED_REASON;
  const reason = retried ? (d.reason === RESUMED_REASON ? `sent again after a restart (attempt ${d.attempts}); may be a duplicate` : `sent on attempt ${d.attempts}`) : undefined;
  await ctx.store.jobs.updateDelivery(task.job.job.id, d.recipientKey, {
    status: "sent", activityId, notBefore: null, ...(recipient ? { recipient } : {}), ...(reason ? { reason } : {}),
  });
  settled(ctx, task, { status: "sent", activityId, ...(recipient ? { recipient } : {}), ...(reason ? { reason } : {}) });
  ctx.release(task.job, 1);
}

/** Store the 1:1 id on the member (creating the member, as a member of that 1:1 chat, when Herald never saw them). */
export async function rememberPersonalConversation(ctx: EngineContext, r: DeliveryRecipient, conversationId: string): Promise<void> {
  const userId = r.userId!;
  if (await ctx.store.members.get(r.tenantId, userId)) {
    await ctx.store.members.setPersonalConversation(r.tenantId, userId, conversationId);
    return;
  }
  await ctx.store.members.upsertMembers(targetKey(r.tenantId, conversationId), [{
    tenantId: r.tenantId, userId, serviceUrl: r.serviceUrl, personalConversationId: conversationId,
    ...(r.aadObjectId ? { aadObjectId: r.aadObjectId } : {}), ...(r.name ? { name: r.name } : {}), ...(r.timeZone ? { timeZone: r.timeZone } : {}),
  }]);
}

export async function settleFailure(ctx: EngineContext, task: DeliveryTask, failure: TeamsFailure): Promise<void> {
  const aj = task.job;
  const d = task.delivery;
  const jobId = aj.job.id;
  const now = ctx.clock.now();
  const reason = describeFailure(failure);
  // The status this task left the delivery in; anything else means a cancel got there first, and it stands.
  const expected = task.phase === "create" ? "pending" : "sending";
  const update = (patch: DeliveryPatch) => ctx.store.jobs.updateDelivery(jobId, d.recipientKey, patch, expected);

  switch (failure.outcome) {
    case "throttled": {
      d.throttled++;
      aj.throttleRetries++;
      await ctx.store.jobs.updateJob(jobId, { throttleRetriesIncrement: 1 });
      const wait = failure.retryAfterMs ?? backoffDelayMs(d.throttled, ctx.backoff, ctx.random);
      penalizeThrottled(ctx, task.keys[0], d.recipient.tenantId, now + wait);
      ctx.log.debug({ jobId, recipientKey: d.recipientKey, waitMs: wait, retryAfter: failure.retryAfterMs !== undefined }, "throttled by Teams");
      if (d.throttled > ctx.maxThrottleRetries) {
        const why = `${reason}; throttled ${d.throttled} times, giving up`;
        await update({ status: "failed", throttledIncrement: 1, reason: why });
        settled(ctx, task, { status: "failed", reason: why });
        return ctx.release(aj, 1);
      }
      ctx.events.emit("onRetry", { jobId, tenantId: d.recipient.tenantId, recipientKey: d.recipientKey, reason: "throttled", waitMs: wait });
      return retryLater(ctx, task, now + wait, { throttledIncrement: 1, reason: `${reason}; retrying` });
    }
    case "transient": {
      const tries = d.attempts - d.throttled;
      if (tries >= ctx.maxAttempts) {
        const why = `${reason} (gave up after ${tries} attempts)`;
        await update({ status: "failed", reason: why });
        settled(ctx, task, { status: "failed", reason: why });
        return ctx.release(aj, 1);
      }
      const wait = backoffDelayMs(tries, ctx.backoff, ctx.random);
      ctx.events.emit("onRetry", { jobId, tenantId: d.recipient.tenantId, recipientKey: d.recipientKey, reason: "transient", waitMs: wait });
      return retryLater(ctx, task, now + wait, { reason: `${reason}; retrying (attempt ${tries} of ${ctx.maxAttempts})` });
    }
    case "gone": {
      await update({ status: "gone", reason: failure.reason });
      settled(ctx, task, { status: "gone", reason: failure.reason });
      if (d.recipient.targetKey) await ctx.store.targets.markGone(d.recipient.targetKey, failure.reason, isoNow(ctx));
      ctx.log.info({ jobId, recipientKey: d.recipientKey, reason: failure.reason }, "target gone; pruned");
      return ctx.release(aj, 1);
    }
    case "failed": {
      await update({ status: "failed", reason });
      settled(ctx, task, { status: "failed", reason });
      ctx.log.warn({ jobId, recipientKey: d.recipientKey, status: failure.status, code: failure.code }, "delivery failed");
      return ctx.release(aj, 1);
    }
  }
}

async function retryLater(ctx: EngineContext, task: DeliveryTask, notBefore: number, patch: { throttledIncrement?: number; reason: string }): Promise<void> {
  const aj = task.job;
  if (aj.cancelled || aj.stopped || ctx.isStopping()) {
    // Cancelled: do not retry. Stopping, or the partition handed over: leave it pending for the next owner.
    await ctx.store.jobs.updateDelivery(aj.job.id, task.delivery.recipientKey, {
      ...patch, status: aj.cancelled ? "cancelled" : "pending", notBefore, ...(aj.cancelled ? { reason: "cancelled" } : {}),
    }, task.phase === "create" ? "pending" : "sending");
    if (aj.cancelled) settled(ctx, task, { status: "cancelled", reason: "cancelled" });
    return ctx.release(aj, 1);
  }
  const expected = task.phase === "create" ? "pending" : "sending";
  if (!(await ctx.store.jobs.updateDelivery(aj.job.id, task.delivery.recipientKey, { ...patch, status: "pending", notBefore }, expected))) {
    return ctx.release(aj, 1); // cancelled meanwhile (possibly on another instance)
  }
  task.delivery.reason = patch.reason;
  task.notBefore = notBefore;
  ctx.queue.push(task, ctx.dispatch.now());
}

/**
 * Run a paced call that is not a delivery (a roster page), retrying 429 and transient failures like deliveries
 * are retried, but waiting in place instead of going back to the queue.
 */
export async function retryPacedCall<T>(ctx: EngineContext, tenantId: string, keys: RateKey[], pacedCall: () => Promise<T>): Promise<T> {
  for (let attempt = 1, throttled = 0; ; attempt++) {
    try {
      return await pacedCall();
    } catch (err) {
      const failure = classifyTeamsError(err);
      const now = ctx.clock.now();
      if (failure.outcome === "throttled" && throttled++ < ctx.maxThrottleRetries) {
        const wait = failure.retryAfterMs ?? backoffDelayMs(throttled, ctx.backoff, ctx.random);
        penalizeThrottled(ctx, keys[0], tenantId, now + wait);
        attempt--;
        await sleep(wait);
      } else if (failure.outcome === "transient" && attempt < ctx.maxAttempts) {
        await sleep(backoffDelayMs(attempt, ctx.backoff, ctx.random));
      } else {
        throw err;
      }
    }
  }
}

/** Block the throttled key until `until` and slow the tenant's budget down (AIMD), on the limiter's clock. */
function penalizeThrottled(ctx: EngineContext, key: RateKey, tenantId: string, until: number): void {
  ctx.limiter.penalize(key, until);
  ctx.limiter.slowDown(tenantKey(tenantId), ctx.dispatch.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
