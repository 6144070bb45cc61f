/**
 * What can happen to a notification after it was sent, requested from any instance: update every copy (PATCH),
 * retract it (DELETE), send the failed deliveries again (retry), remind those who have not acknowledged (remind).
 *
 * Nothing here calls Teams. Each change is recorded in the store and turned into work items for the partitions of
 * the job's slices, which their owners run through the delivery engine (copy-edits.ts, engine.ts) — paced,
 * retried, fenced and resumable like sends. The caller gets 202 once that is stored.
 */
import { randomUUID } from "node:crypto";
import { groupByPartition } from "../cluster/partitions";
import { isKnownTemplate, listTemplates } from "../cards/render";
import type { CopyState, DeliveryInput, HeraldStore, Job, NotificationContent, WorkItem } from "../store/types";
import type { NotificationUpdate, TriggerMeta } from "./notification-request";
import { RequestError, type EngineControl } from "./notification-service";

/** The change cannot apply to the notification as it is (HTTP 409). */
export class NotificationConflict extends Error {
  override readonly name = "NotificationConflict";
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

export class NotificationNotFound extends Error {
  override readonly name = "NotificationNotFound";
}

const PAGE = 1000;
/** Copies a reminder does not go to: the conversation is gone, or the notification's copy was deleted. */
const NOT_REMINDABLE: ReadonlySet<CopyState> = new Set(["gone", "deleted", "deleting", "deleteFailed"]);

export class NotificationChanges {
  constructor(private readonly deps: {
    store: HeraldStore;
    engine: EngineControl;
    partitionCount: number;
    now?: () => Date;
  }) {}

  /**
   * New content for every copy: the job's content and version change at once (copies not sent yet go out with
   * it), and each slice's owner updates the delivered copies that show an older version.
   */
  async update(id: string, change: NotificationUpdate): Promise<Job> {
    const job = await this.job(id);
    this.assertLive(job, "updated");
    if (change.card && !isKnownTemplate(change.card.template)) {
      throw new RequestError("card.template", `unknown template "${change.card.template}" (known: ${listTemplates().join(", ")})`);
    }
    const content: NotificationContent = { ...job.content };
    if (change.title !== undefined) content.title = change.title;
    if (change.text !== undefined) content.text = change.text;
    if (change.url === null) delete content.url;
    else if (change.url !== undefined) content.url = change.url;
    if (change.card === null) delete content.card;
    else if (change.card !== undefined) content.card = change.card;
    if (!(await this.deps.store.jobs.updateJob(id, { content }, ["queued", "running", "completed", "failed"]))) {
      this.assertLive(await this.job(id), "updated"); // cancelled meanwhile
    }
    const updated = await this.job(id);
    await this.putWork(updated, "update", { version: updated.contentVersion });
    return updated;
  }

  /** Cancel what is not sent yet and delete every delivered copy. Repeating it is harmless. */
  async retract(id: string): Promise<Job> {
    let job = await this.job(id);
    if (!job.retractedAt) {
      await this.deps.store.jobs.updateJob(id, { retractedAt: this.now().toISOString() });
    }
    if (job.status === "queued" || job.status === "running") await this.deps.engine.cancel(id);
    job = await this.job(id);
    await this.putWork(job, "retract", {});
    return job;
  }

  /** Failed deliveries (not gone, skipped or cancelled) go back to pending; the job runs again. */
  async retry(id: string): Promise<{ job: Job; requeued: number }> {
    const job = await this.job(id);
    this.assertLive(job, "retried");
    const requeued = await this.deps.store.jobs.transitionAll(id, "failed", "pending", "sending again (retry requested)", undefined, { resetAttempts: true });
    if (requeued === 0) throw new NotificationConflict("nothing_to_retry", `notification ${id} has no failed deliveries`);
    await this.deps.store.jobs.updateJob(id, { status: "running", finishedAt: null, error: null }, ["queued", "running", "completed", "failed"]);
    await this.putWork(job, "job", {});
    return { job: await this.job(id), requeued };
  }

  /**
   * A reminder: a new job (kind "reminder", parentId) to exactly those whose copy was delivered and who have not
   * acknowledged — copied from the parent's deliveries — sent through the normal path with the reminder card.
   */
  async remind(id: string, meta: TriggerMeta, idempotencyKey?: string): Promise<{ job: Job; created: boolean }> {
    const parent = await this.job(id);
    this.assertLive(parent, "reminded");
    if (!parent.content.acknowledge) {
      throw new NotificationConflict("not_acknowledgeable", `notification ${id} has no Acknowledge button ("acknowledge": true), so nobody can be reminded`);
    }
    if (idempotencyKey) {
      const existing = await this.deps.store.jobs.findByIdempotencyKey(idempotencyKey);
      if (existing) return { job: existing, created: false };
    }
    const recipients: DeliveryInput[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.jobs.listDeliveries(id, PAGE, cursor, "sent", { acknowledged: false });
      for (const d of page.items) {
        if (d.copy && NOT_REMINDABLE.has(d.copy)) continue;
        recipients.push({ recipientKey: d.recipientKey, recipient: d.recipient });
      }
      cursor = page.cursor;
    } while (cursor);
    const grouped = groupByPartition(recipients, this.deps.partitionCount);
    const result = await this.deps.store.jobs.createJob({
      id: randomUUID(),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      status: "queued",
      kind: "reminder",
      parentId: parent.id,
      content: parent.content,
      audience: parent.audience,
      ...(parent.category ? { category: parent.category } : {}),
      triggeredBy: parent.triggeredBy,
      ...(meta.createdBy ? { createdBy: meta.createdBy } : {}),
      ...(parent.deliverWithin ? { deliverWithin: parent.deliverWithin } : {}),
      createdAt: this.now().toISOString(),
      slices: grouped.slices,
    }, grouped.deliveries);
    if (result.created) this.deps.engine.wake(result.job.id);
    return result;
  }

  private async job(id: string): Promise<Job> {
    const job = await this.deps.store.jobs.getJob(id);
    if (!job) throw new NotificationNotFound(`notification ${id} was not found`);
    return job;
  }

  private assertLive(job: Job, what: string): void {
    if (job.retractedAt) throw new NotificationConflict("retracted", `notification ${job.id} was retracted; it cannot be ${what}`);
    if (job.status === "cancelled") throw new NotificationConflict("cancelled", `notification ${job.id} was cancelled; it cannot be ${what}`);
  }

  /** One work item per slice, in the slice's partition: its owner does the work (the doorbell). */
  private async putWork(job: Job, kind: WorkItem["kind"], data: Record<string, unknown>): Promise<void> {
    await Promise.all(job.slices.map((slice) => this.deps.store.work.put({ partition: slice.partition, kind, id: job.id, data })));
    this.deps.engine.poke();
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
