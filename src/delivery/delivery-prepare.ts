/** The checks claimed deliveries pass before they may use any of Teams' budget, and the request each needs first. */
import type { Delivery } from "../store/types";
import type { ActiveJob, DeliveryTask, EngineContext } from "./engine-context";
import { createKeys, graphKeys, graphLane, sendKeys } from "./rate-keys";
import { holdReason, nextOpening, recipientZone } from "./working-hours";

type PrepareContext = Pick<EngineContext, "store" | "events" | "clock" | "defaultTimeZone">;

/** A person opts out by their ids; a group chat or channel is muted by its target key (see HeraldBot). */
function optOutKeys(delivery: Delivery): string[] {
  const r = delivery.recipient;
  return [r.aadObjectId, r.userId, r.targetKey].filter((k): k is string => Boolean(k));
}

/**
 * Opt-out check (one store query per tenant for the whole chunk), working hours, and 1:1 lookup. A delivery settled
 * here (skipped, or failed for want of an address) or held for the recipient's working hours gets no task.
 */
export async function prepareChunk(ctx: PrepareContext, aj: ActiveJob, deliveries: Delivery[]): Promise<Array<DeliveryTask | undefined>> {
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

async function prepareDelivery(ctx: PrepareContext, aj: ActiveJob, delivery: Delivery, optedOut: boolean): Promise<DeliveryTask | undefined> {
  const r = delivery.recipient;
  if (optedOut) {
    if (await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "skipped", reason: "opted out" }, "pending")) {
      ctx.events.emit("onSettled", { job: aj.job, delivery: { ...delivery, status: "skipped", reason: "opted out" } });
    }
    return undefined;
  }
  if (await heldForWorkingHours(ctx, aj, delivery)) return undefined;
  const task: DeliveryTask = {
    kind: "delivery", plannedAt: 0, job: aj, partition: aj.partition, delivery, phase: "send", recipientDirty: false, createAttempts: 0, tenantId: r.tenantId, keys: [],
    notBefore: delivery.held ? 0 : delivery.notBefore ?? 0,
  };
  if (!r.conversationId && r.installFor) {
    // installIfMissing: the Graph install happens here, on the partition's owner, paced under Graph's budget.
    task.phase = "install";
    task.tenantId = graphLane(r.tenantId);
    task.keys = graphKeys(r.tenantId);
    return task;
  }
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

/**
 * Working hours: a delivery whose recipient's window is closed now is held — `notBefore` the next opening in their
 * zone, a reason saying until when — and left in the store, not in memory; the slice sleeps until the earliest
 * one is due (engine.ts). True when held.
 */
async function heldForWorkingHours(ctx: PrepareContext, aj: ActiveJob, delivery: Delivery): Promise<boolean> {
  const window = aj.job.deliverWithin;
  if (!window) return false;
  const now = ctx.clock.now();
  const holdUntil = (until: number) => {
    aj.heldUntil = Math.min(aj.heldUntil ?? Infinity, until);
    return true;
  };
  if (delivery.held && delivery.notBefore !== undefined && delivery.notBefore > now) return holdUntil(delivery.notBefore);
  const zone = recipientZone(delivery.recipient.timeZone, ctx.defaultTimeZone);
  const opening = nextOpening(window, zone, now);
  if (opening === undefined) return false;
  const reason = holdReason(window, zone, opening);
  if (await ctx.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { held: true, notBefore: opening, reason }, "pending")) {
    return holdUntil(opening);
  }
  return true; // no longer pending (cancelled meanwhile): nothing to send either
}
