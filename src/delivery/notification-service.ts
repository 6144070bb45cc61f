/**
 * The one way a notification comes to exist, whatever triggered it: validate, resolve the audience, persist
 * the job with all its deliveries, then wake the engine. The caller gets its answer once the job is stored;
 * sending happens in the background.
 */
import { randomUUID } from "node:crypto";
import { groupByPartition } from "../cluster/partitions";
import { isKnownTemplate, listTemplates } from "../cards/render";
import type { CopyCounts, DeliveryCounts, DeliveryInput, DeliveryWindow, HeraldStore, Job } from "../store/types";
import type { AudienceResolver } from "./audience";
import { AudienceError } from "./audience";
import type { NotificationRequest, TriggerMeta } from "./notification-request";

export interface EngineControl {
  wake(jobId: string): void;
  cancel(jobId: string): Promise<unknown>;
  /** Work items were stored: the owner (if it is this instance) looks now instead of at its next poll. */
  poke(): void;
}

export class RequestError extends Error {
  override readonly name = "RequestError";
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export interface NotificationReport {
  id: string;
  status: Job["status"];
  title: string;
  category?: string;
  triggeredBy: string;
  /** The authenticated API caller that created it. */
  createdBy?: string;
  audience: Record<string, unknown>;
  idempotencyKey?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  counts: Omit<DeliveryCounts, "sending"> & { throttleRetries: number; acknowledged: number; held: number };
  error?: string;
  /** "reminder" for a reminder of `parentId`. */
  kind?: "reminder";
  parentId?: string;
  acknowledge?: boolean;
  deliverWithin?: DeliveryWindow;
  contentVersion: number;
  /** After PATCH: delivered copies showing `version` (updated), still to update, and those that could not be. */
  update?: { version: number; updated: number; pending: number; failed: number };
  /** After DELETE: delivered copies deleted, still to delete, and those that could not be. */
  retract?: { retractedAt: string; deleted: number; pending: number; failed: number };
}

export class NotificationService {
  constructor(private readonly deps: {
    store: HeraldStore;
    audiences: AudienceResolver;
    engine: EngineControl;
    /** Delivery partitions of the store: deliveries are stored grouped by their tenant's partition. */
    partitionCount: number;
    now?: () => Date;
    allowedTenants?: readonly string[];
  }) {}

  async create(request: NotificationRequest, meta: TriggerMeta): Promise<{ job: Job; created: boolean }> {
    if (request.card && !isKnownTemplate(request.card.template)) {
      throw new RequestError("card.template", `unknown template "${request.card.template}" (known: ${listTemplates().join(", ")})`);
    }
    if (request.idempotencyKey) {
      const existing = await this.deps.store.jobs.findByIdempotencyKey(request.idempotencyKey);
      if (existing) return { job: existing, created: false };
    }
    let deliveries;
    try {
      deliveries = await this.deps.audiences.resolve(request.audience, { installIfMissing: request.installIfMissing, timeZoneFilter: meta.timeZoneFilter });
    } catch (error) {
      if (error instanceof AudienceError) throw new RequestError(error.field, error.message);
      throw error;
    }
    deliveries = skipOutsideTenants(deliveries, this.deps.allowedTenants ?? []);
    const now = (this.deps.now?.() ?? new Date()).toISOString();
    const grouped = groupByPartition(deliveries, this.deps.partitionCount);
    const result = await this.deps.store.jobs.createJob({
      id: randomUUID(),
      idempotencyKey: request.idempotencyKey,
      status: "queued",
      content: { title: request.title, text: request.text, url: request.url, card: request.card, ...(request.acknowledge ? { acknowledge: true } : {}) },
      audience: (request.audience ?? { kind: "all" }) as Record<string, unknown>,
      category: request.category ?? "general",
      triggeredBy: request.source ?? meta.triggeredBy,
      ...(meta.createdBy ? { createdBy: meta.createdBy } : {}),
      ...(request.deliverWithin ? { deliverWithin: request.deliverWithin } : {}),
      createdAt: now,
      slices: grouped.slices,
    }, grouped.deliveries);
    if (result.created) this.deps.engine.wake(result.job.id);
    return result;
  }

  async report(id: string): Promise<NotificationReport | undefined> {
    const job = await this.deps.store.jobs.getJob(id);
    if (!job) return undefined;
    const [counts, copies] = await Promise.all([this.deps.store.jobs.counts(id), this.deps.store.jobs.copyCounts(id)]);
    return toReport(job, counts, copies);
  }

  async cancel(id: string): Promise<NotificationReport | undefined> {
    const job = await this.deps.store.jobs.getJob(id);
    if (!job) return undefined;
    if (job.status === "queued" || job.status === "running") await this.deps.engine.cancel(id);
    return this.report(id);
  }
}

/** HERALD_ALLOWED_TENANTS: a recipient elsewhere (stored before the list was set) is skipped and reported. */
function skipOutsideTenants(deliveries: DeliveryInput[], allowedTenants: readonly string[]): DeliveryInput[] {
  if (allowedTenants.length === 0) return deliveries;
  const allowed = new Set(allowedTenants.map((t) => t.toLowerCase()));
  return deliveries.map((d) => (allowed.has(d.recipient.tenantId.toLowerCase()) ? d
    : { ...d, status: "skipped" as const, reason: `tenant ${d.recipient.tenantId} is not in HERALD_ALLOWED_TENANTS` }));
}

export function toReport(job: Job, counts: DeliveryCounts, copies?: CopyCounts): NotificationReport {
  const { sending, ...rest } = counts;
  const copy = (state: keyof CopyCounts["copies"]) => copies?.copies[state] ?? 0;
  const updated = copies?.versions[String(job.contentVersion)] ?? 0;
  const updateFailed = copy("updateFailed") + copy("gone");
  const deleted = copy("deleted");
  const deleteFailed = copy("deleteFailed") + copy("gone");
  return {
    id: job.id,
    status: job.status,
    title: job.content.title,
    category: job.category,
    triggeredBy: job.triggeredBy,
    ...(job.createdBy ? { createdBy: job.createdBy } : {}),
    audience: job.audience,
    ...(job.idempotencyKey ? { idempotencyKey: job.idempotencyKey } : {}),
    createdAt: job.createdAt,
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
    ...(job.finishedAt ? { finishedAt: job.finishedAt } : {}),
    // In-flight deliveries are still pending from the caller's point of view.
    counts: { ...rest, pending: rest.pending + sending, throttleRetries: job.throttleRetries, acknowledged: copies?.acknowledged ?? 0, held: copies?.held ?? 0 },
    ...(job.error ? { error: job.error } : {}),
    ...(job.kind ? { kind: job.kind } : {}),
    ...(job.parentId ? { parentId: job.parentId } : {}),
    ...(job.content.acknowledge ? { acknowledge: true } : {}),
    ...(job.deliverWithin ? { deliverWithin: job.deliverWithin } : {}),
    contentVersion: job.contentVersion,
    ...(job.contentVersion > 1 && copies ? {
      update: { version: job.contentVersion, updated, pending: Math.max(0, counts.sent - updated - updateFailed - deleted), failed: updateFailed },
    } : {}),
    ...(job.retractedAt && copies ? {
      retract: { retractedAt: job.retractedAt, deleted, pending: Math.max(0, counts.sent - deleted - deleteFailed), failed: deleteFailed },
    } : {}),
  };
}
