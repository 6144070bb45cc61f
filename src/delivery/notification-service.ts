/**
 * The one way a notification comes to exist, whatever triggered it: validate, resolve the audience, persist
 * the job with all its deliveries, then wake the engine. The caller gets its answer once the job is stored;
 * sending happens in the background.
 */
import { randomUUID } from "node:crypto";
import { groupByPartition } from "../cluster/partitions";
import { isKnownTemplate, listTemplates } from "../cards/render";
import type { DeliveryCounts, DeliveryInput, HeraldStore, Job } from "../store/types";
import type { AudienceResolver } from "./audience";
import { AudienceError } from "./audience";
import type { NotificationRequest, TriggerMeta } from "./notification-request";

export interface EngineControl {
  wake(jobId: string): void;
  cancel(jobId: string): Promise<unknown>;
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
  counts: Omit<DeliveryCounts, "sending"> & { throttleRetries: number };
  error?: string;
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
      createdAt: now,
      slices: grouped.slices,
    }, grouped.deliveries);
    if (result.created) this.deps.engine.wake(result.job.id);
    return result;
  }

  async report(id: string): Promise<NotificationReport | undefined> {
    const job = await this.deps.store.jobs.getJob(id);
    if (!job) return undefined;
    return toReport(job, await this.deps.store.jobs.counts(id));
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

export function toReport(job: Job, counts: DeliveryCounts): NotificationReport {
  const { sending, ...rest } = counts;
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
    counts: { ...rest, pending: rest.pending + sending, throttleRetries: job.throttleRetries },
    ...(job.error ? { error: job.error } : {}),
  };
}
