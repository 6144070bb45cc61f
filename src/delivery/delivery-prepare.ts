/** The checks a claimed delivery passes before it may use any of Teams' budget, and the request it needs first. */
import type { Delivery } from "../store/types";
import type { ActiveJob, DeliveryTask, EngineContext } from "./engine-context";
import { createKeys, sendKeys } from "./rate-keys";

/** Opt-out check and 1:1 lookup. Undefined = settled here (skipped or failed in the store). */
export async function prepareDelivery(ctx: Pick<EngineContext, "store" | "events">, aj: ActiveJob, delivery: Delivery): Promise<DeliveryTask | undefined> {
  const r = delivery.recipient;
  // A person opts out by their ids; a group chat or channel is muted by its target key (see HeraldBot).
  const userKeys = [r.aadObjectId, r.userId, r.targetKey].filter((k): k is string => Boolean(k));
  if (userKeys.length && (await ctx.store.preferences.isOptedOut(r.tenantId, userKeys, aj.job.category))) {
    await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "skipped", reason: "opted out" });
    ctx.events.emit("onSettled", { job: aj.job, delivery: { ...delivery, status: "skipped", reason: "opted out" } });
    return undefined;
  }
  const task: DeliveryTask = {
    kind: "delivery", job: aj, partition: aj.partition, delivery, phase: "send", recipientDirty: false, createAttempts: 0, tenantId: r.tenantId, keys: [],
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
    await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "failed", reason });
    ctx.events.emit("onSettled", { job: aj.job, delivery: { ...delivery, status: "failed", reason } });
    return undefined;
  }
  task.keys = sendKeys(r.tenantId, delivery.recipient.conversationId);
  return task;
}
