/**
 * Changing what was already sent. "update" work items bring every delivered copy of a job's slice to the job's
 * content version (Bot Connector update activity, by the stored activity id); "retract" work items delete every
 * delivered copy. Both run on the slice's partition owner, through the engine's queue, exactly like sends:
 *
 *  - paced by the same limiter and rate keys (an update or a delete is a write into the thread: the thread's send
 *    windows and the tenant's 50/s), retried by the same rules (429 after Retry-After, 412/502/503/504 with
 *    backoff, bounded), fenced (nothing is dispatched for a partition this instance no longer owns);
 *  - each request is preceded by a durable mark (`copy: "updating" | "deleting"`, a check-and-set on the copy's
 *    state), and followed by its result. A crash leaves the mark; the next owner finds it and makes that request
 *    again — the only way a copy can be updated twice, bounded by the requests in flight, like a duplicate send.
 *
 * A pass reads the slice's delivered copies that still need the change in seq order (chunks, a bounded number
 * outstanding) and edits them. Copies sent while a pass runs are caught by another pass: the work is done only
 * when a whole pass finds nothing and no send of the slice is in flight with the old content (an update), or at
 * all (a retract: a send that was in flight when the notification was cancelled may still land and be recorded).
 */
import type { PartitionOwnership } from "../cluster/ownership";
import type { CopyState, Delivery, DeliveryFilter, DeliveryPatch, Job, SeqRange, WorkItem } from "../store/types";
import { observeRequest } from "./delivery-events";
import { pruneGone, retryPacedCall } from "./delivery-outcome";
import { AbandonedError, type EngineContext } from "./engine-context";
import { errorText } from "./engine-report";
import type { RateKey } from "./rate-limiter";
import { sendKeys } from "./rate-keys";
import { classifyTeamsError, describeFailure } from "./teams-errors";

export type CopyEdit = "update" | "retract";

/** Copies read per store query. */
const CHUNK = 256;
/**
 * Edits marked and handed to the queue but not finished, per slice. It bounds what a crash can leave marked (the
 * same bound as a send's "sending": the engine's 64 requests in flight) and is enough to keep a tenant's 50/s busy
 * at any latency. The mark is written before the edit is queued, not between admission and request as a send's
 * is: then no store write can delay (and bunch up) requests the limiter already spaced.
 */
const OUTSTANDING = 64;
/** Between passes while sends of the slice are still in flight. */
const SETTLE_MS = 200;
/** A slice whose sends stay in flight this long is left for a later try of the work item (it stays stored). */
const SETTLE_LIMIT_MS = 120_000;

export interface CopyEditorDeps {
  ctx: EngineContext;
  ownership: PartitionOwnership;
  /** A call under the engine's pacing: concurrency, rate keys, fencing; rejects with AbandonedError when dropped. */
  paced<T>(tenantId: string, keys: RateKey[], call: () => Promise<T>): Promise<T>;
  /** Requests of this job's slice in flight on this instance (its sends). */
  sendsInFlight(jobId: string, partition: number): number;
  /** A newer content version exists: slices of the job being sent here switch to it for what they send next. */
  refreshContent(job: Job): void;
}

export class CopyEditor {
  /** Edits in progress (request or bookkeeping), by partition: a graceful stop or handover waits for them. */
  private readonly busy = new Map<number, number>();
  private waiters: Array<() => void> = [];

  constructor(private readonly deps: CopyEditorDeps) {}

  handler(edit: CopyEdit): (item: WorkItem) => Promise<void> {
    return (item) => this.run(edit, item);
  }

  /** Edits in progress for these partitions (all when absent). */
  inProgress(partition?: number): number {
    if (partition !== undefined) return this.busy.get(partition) ?? 0;
    let n = 0;
    for (const count of this.busy.values()) n += count;
    return n;
  }

  /** Resolves once no edit of `partition` (or of any) is in progress. */
  settled(partition?: number): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.inProgress(partition) === 0) resolve();
        else this.waiters.push(check);
      };
      check();
    });
  }

  private async run(edit: CopyEdit, item: WorkItem): Promise<void> {
    const { store } = this.deps.ctx;
    const job = await store.jobs.getJob(item.id);
    if (!job) return;
    if (edit === "update" && (job.retractedAt || job.status === "cancelled")) return; // a retract supersedes it
    const slice = job.slices.find((s) => s.partition === item.partition);
    if (!slice) return;
    if (edit === "update") this.deps.refreshContent(job);
    const range = { from: slice.firstSeq, to: slice.firstSeq + slice.count };
    const started = Date.now();
    const edited = await this.editSlice(edit, job, item.partition, range);
    this.deps.ctx.log.info({ jobId: job.id, partition: item.partition, edit, version: job.contentVersion, copies: edited, seconds: Math.round((Date.now() - started) / 100) / 10 },
      edit === "update" ? "delivered copies updated" : "delivered copies deleted");
  }

  private async editSlice(edit: CopyEdit, job: Job, partition: number, range: SeqRange): Promise<number> {
    const { store } = this.deps.ctx;
    const filter: DeliveryFilter = edit === "update"
      ? { contentVersionBelow: job.contentVersion, copy: [null, "updating"] }
      : { copy: [null, "updating", "deleting", "updateFailed"] };
    // An update waits for sends still carrying the old content; a retract for any send still in flight.
    const inFlightFilter: DeliveryFilter | undefined = edit === "update" ? { contentVersionBelow: job.contentVersion } : undefined;
    let edited = 0;
    const settleDeadline = Date.now() + SETTLE_LIMIT_MS;
    for (;;) {
      const found = await this.pass(edit, job, partition, range, filter);
      edited += found;
      const sending = await store.jobs.listDeliveriesByStatus(job.id, ["sending"], 1, range.from - 1, range.to, inFlightFilter);
      const local = edit === "retract" ? this.deps.sendsInFlight(job.id, partition) : 0;
      if (found === 0 && sending.length === 0 && local === 0) return edited;
      if (found === 0) {
        if (Date.now() > settleDeadline) throw new Error(`sends of job ${job.id} in partition ${partition} are still in flight; trying again later`);
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      }
    }
  }

  /** One pass over the slice: every copy that needs the edit, in seq order. Returns how many were found. */
  private async pass(edit: CopyEdit, job: Job, partition: number, range: SeqRange, filter: DeliveryFilter): Promise<number> {
    const { store } = this.deps.ctx;
    const outstanding = new Set<Promise<void>>();
    let failure: unknown;
    let found = 0;
    let cursor = range.from - 1;
    try {
      for (;;) {
        if (!this.deps.ownership.owns(partition)) throw new AbandonedError(`partition ${partition} is no longer owned here`);
        if (edit === "update" && (await store.jobs.getJob(job.id))?.retractedAt) break;
        const batch = await store.jobs.listDeliveriesByStatus(job.id, ["sent"], CHUNK, cursor, range.to, filter);
        for (const delivery of batch) {
          while (outstanding.size >= OUTSTANDING) await Promise.race(outstanding);
          if (failure) throw failure;
          found++;
          const done: Promise<void> = this.editOne(edit, job, partition, delivery)
            .catch((error) => { failure ??= error; })
            .finally(() => outstanding.delete(done));
          outstanding.add(done);
        }
        if (failure) throw failure;
        if (batch.length < CHUNK) break;
        cursor = batch[batch.length - 1]!.seq;
      }
    } finally {
      await Promise.all(outstanding);
    }
    if (failure) throw failure;
    return found;
  }

  private async editOne(edit: CopyEdit, job: Job, partition: number, d: Delivery): Promise<void> {
    const { ctx } = this.deps;
    const from = d.copy ?? null;
    const mark: CopyState = edit === "update" ? "updating" : "deleting";
    this.enter(partition);
    try {
      const again = from === mark; // the previous owner stopped with this request in flight
      const r = d.recipient;
      const result = (patch: DeliveryPatch) => ctx.store.jobs.updateDelivery(job.id, d.recipientKey, patch, { copy: mark });
      const what = edit === "update" ? `update to version ${job.contentVersion}` : "delete";
      // The durable mark: only on a copy still as we read it (a check-and-set), so a retract or a new owner wins cleanly.
      if (!(await ctx.store.jobs.updateDelivery(job.id, d.recipientKey, { copy: mark }, { status: "sent", copy: from }))) return;
      if (!r.conversationId || !d.activityId) {
        await result({ copy: edit === "update" ? "updateFailed" : "deleteFailed", copyReason: `${what}: no activity id was recorded for this copy` });
        return;
      }
      const target = { ...r, conversationId: r.conversationId };
      const activityId = d.activityId;
      const keys = sendKeys(r.tenantId, r.conversationId);
      let request: () => Promise<void>;
      if (edit === "update") {
        let activity;
        try {
          activity = ctx.render(job, r, d);
        } catch (error) {
          await result({ copy: "updateFailed", copyReason: `${what}: could not render the card: ${errorText(error)}` });
          return;
        }
        request = () => ctx.connector.updateActivity(target, activityId, activity);
      } else {
        request = () => ctx.connector.deleteActivity(target, activityId);
      }
      const operation = edit === "update" ? "updateActivity" as const : "deleteActivity" as const;
      let attempt = 0;
      try {
        await retryPacedCall(ctx, r.tenantId, keys,
          () => this.deps.paced(r.tenantId, keys,
            () => observeRequest(ctx.events, { operation, tenantId: r.tenantId, jobId: job.id, recipientKey: d.recipientKey, attempt: ++attempt }, request)),
          (failure) => {
            if (failure.outcome === "throttled") void ctx.store.jobs.updateJob(job.id, { throttleRetriesIncrement: 1 }).catch(() => undefined);
          });
      } catch (error) {
        if (error instanceof AbandonedError) throw error; // the mark stays: the partition's next owner redoes it
        const failure = classifyTeamsError(error);
        const missing = failure.outcome === "failed" && failure.status === 404 && failure.code === "ActivityNotFoundInConversation";
        if (missing && edit === "retract") {
          await result({ copy: "deleted", copyReason: "the message was already gone from Teams (404 ActivityNotFoundInConversation)" });
        } else if (missing) {
          await result({ copy: "updateFailed", copyReason: `${what}: the message no longer exists in Teams (404 ActivityNotFoundInConversation)` });
        } else if (failure.outcome === "gone") {
          await result({ copy: "gone", copyReason: `${what}: ${describeFailure(failure)}` });
          await pruneGone(ctx, r, failure.reason);
        } else {
          await result({ copy: edit === "update" ? "updateFailed" : "deleteFailed", copyReason: `${what}: ${describeFailure(failure)}` });
          ctx.log.warn({ jobId: job.id, recipientKey: d.recipientKey, edit, outcome: failure.outcome }, "could not change a delivered copy");
        }
        return;
      }
      const twice = again ? `${edit === "update" ? "updated" : "deleted"} again after a restart; the person may have seen it change twice` : null;
      await result(edit === "update" ? { copy: null, contentVersion: job.contentVersion, copyReason: twice } : { copy: "deleted", copyReason: twice });
    } finally {
      this.leave(partition);
    }
  }

  private enter(partition: number): void {
    this.busy.set(partition, (this.busy.get(partition) ?? 0) + 1);
  }

  private leave(partition: number): void {
    const left = (this.busy.get(partition) ?? 1) - 1;
    if (left > 0) this.busy.set(partition, left);
    else this.busy.delete(partition);
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) waiter();
  }
}
