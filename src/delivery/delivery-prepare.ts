/** The checks claimed deliveries pass before they may use any of Teams' budget, and the request each needs first. */
import type { Delivery } from "../store/types";
import type { ActiveJob, DeliveryTask, EngineContext } from "./engine-context";
import { createKeys, sendKeys } from "./rate-keys";

/** A person opts out by their ids; a group chat or channel is muted by its target key (see HeraldBot). */
function optOutKeys(delivery: Delivery): string[] {
  const r = delivery.recipient;
  return [r.aadObjectId, r.userId, r.targetKey].filter((k): k is string => Boolean(k));
}

/**
 * Opt-out check (one store query per tenant for the whole chunk) and 1:1 lookup. A delivery settled here
 * (skipped, or failed for want of an address) gets no task.
 */
export async function prepareChunk(ctx: Pick<EngineContext, "store" | "events">, aj: ActiveJob, deliveries: Delivery[]): Promise<Array<DeliveryTask | undefined>> {
  const byTenant = new Map<string, Set<string>>();
  for (const d of deliveries) {
    let keys = byTenant.get(d.recipient.tenantId);
    if (!keys) byTenant.set(d.recipient.tenantId, (keys = new Set()));
    for (const key of optOutKeys(d)) keys.add(key);
  }
  const optedOut = new Map<string, Set<string>>();
  await Promise.all([...byTenant].map(async ([tenantId, keys]) => {
    optedOut.set(tenantId, await ctx.store.preferences.optedOutAmong(tenantId, [...keys], aj.job.category));
  }));
  return Promise.all(deliveries.map((d) => prepareDelivery(ctx, aj, d, optOutKeys(d).some((k) => optedOut.get(d.recipient.tenantId)?.has(k)))));
}

async function prepareDelivery(ctx: Pick<EngineContext, "store" | "events">, aj: ActiveJob, delivery: Delivery, optedOut: boolean): Promise<DeliveryTask | undefined> {
  const r = delivery.recipient;
  if (optedOut) {
    if (await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "skipped", reason: "opted out" }, "pending")) {
      ctx.events.emit("onSettled", { job: aj.job, delivery: { ...delivery, status: "skipped", reason: "opted out" } });
    }
    return undefined;
  }
  const task: DeliveryTask = {
    kind: "delivery", plannedAt: 0, job: aj, partition: aj.partition, delivery, phase: "send", recipientDirty: false, createAttempts: 0, tenantId: r.tenantId, keys: [],
    notBefore: delivery.notBefore ?? 0,
  };
  if (r.newThreadInChannel) {
    task.phase = "thread";
    task.keys = createKeys(r.tenantId, { channelId: r.newThreadInChannel });
    return task;
  }
  if (!r.conversationId && r.userId) {
    const member = await ctx.store.members.get(r.tenantId, r.userId);
    if (member?.personalConversationId) {
      delivery.recipient = { ...r, conversationId: member.personalConversationId };
      task.recipientDirty = true;
    } else {
      task.phase = "create";
      task.keys = createKeys(r.tenantId, { userId: r.userId });
      return task;
    }
  }
  if (!delivery.recipient.conversationId) {
    const reason = "recipient has neither a conversation nor a user id";
    if (await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "failed", reason }, "pending")) {
      ctx.events.emit("onSettled", { job: aj.job, delivery: { ...delivery, status: "failed", reason } });
    }
    return undefined;
  }
  task.keys = sendKeys(r.tenantId, delivery.recipient.conversationId);
  return task;
}
