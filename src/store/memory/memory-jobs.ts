import { checkSlices, defaultSlices } from "../../cluster/partitions";
import {
  addCounterDelta, addToCopyCounts, applyCopyFields, asExpectation, emptyCopyCounts, matchesExpectation, matchesFilter,
} from "../delivery-match";
import type {
  CopyCounts, Delivery, DeliveryCounts, DeliveryExpectation, DeliveryFilter, DeliveryInput, DeliveryPatch, DeliveryStatus, Job, JobPatch,
  JobStatus, JobStore, NewJob, Page, SeqRange,
} from "../types";
import type { MemoryWorkStore } from "./memory-work";
import { assignDefined, clampLimit, copy, decodeCursor, encodeCursor, nowIso } from "./paging";
import { SortedKeys } from "./sorted-keys";

const FINISHED = new Set<JobStatus>(["completed", "failed", "cancelled"]);

interface JobRecord {
  job: Job;
  /** Index = seq. */
  deliveries: Delivery[];
  byRecipient: Map<string, Delivery>;
  counts: DeliveryCounts;
  /** Counters beyond statuses (delivery-match.ts), moved with every write like `counts`. */
  extra: Record<string, number>;
  /** `${createdAt}\0${id}`: newest-first order key. */
  orderKey: string;
}

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly byIdempotencyKey = new Map<string, string>();
  private readonly byOrderKey = new Map<string, string>();
  private readonly order = new SortedKeys((key) => this.byOrderKey.has(key));

  constructor(private readonly work: MemoryWorkStore) {}

  async createJob(input: NewJob, deliveries: DeliveryInput[]): Promise<{ job: Job; created: boolean }> {
    // No await before the write: the check and the insert are atomic on the event loop.
    if (input.idempotencyKey !== undefined) {
      const existingId = this.byIdempotencyKey.get(input.idempotencyKey);
      if (existingId !== undefined) return { job: copy(this.jobs.get(existingId)!.job), created: false };
    }
    if (this.jobs.has(input.id)) throw new Error(`job ${input.id} already exists`);
    const record: JobRecord = {
      job: undefined as unknown as Job,
      deliveries: [],
      byRecipient: new Map(),
      counts: zeroCounts(),
      extra: {},
      orderKey: `${input.createdAt}\0${input.id}`,
    };
    for (const d of deliveries) {
      if (record.byRecipient.has(d.recipientKey)) continue; // first occurrence wins
      const delivery: Delivery = {
        jobId: input.id,
        recipientKey: d.recipientKey,
        seq: record.deliveries.length,
        status: d.status ?? "pending",
        recipient: { ...d.recipient },
        attempts: 0,
        throttled: 0,
        updatedAt: input.createdAt,
      };
      if (d.reason !== undefined) delivery.reason = d.reason;
      record.deliveries.push(delivery);
      record.byRecipient.set(d.recipientKey, delivery);
      record.counts[delivery.status]++;
      addCounterDelta(record.extra, undefined, delivery);
    }
    record.counts.total = record.deliveries.length;
    const slices = input.slices ?? defaultSlices(record.deliveries.length);
    checkSlices(slices, record.deliveries.length);
    record.job = assignDefined({} as Job, {
      ...copy(input),
      slices: copy(slices),
      contentVersion: input.contentVersion ?? 1,
      total: record.deliveries.length,
      throttleRetries: 0,
      updatedAt: input.createdAt,
    });
    for (const slice of slices) this.work.putSync({ partition: slice.partition, kind: "job", id: input.id, data: {}, createdAt: input.createdAt });
    this.jobs.set(input.id, record);
    if (input.idempotencyKey !== undefined) this.byIdempotencyKey.set(input.idempotencyKey, input.id);
    this.byOrderKey.set(record.orderKey, input.id);
    this.order.add(record.orderKey);
    return { job: copy(record.job), created: true };
  }

  async getJob(id: string): Promise<Job | undefined> {
    const record = this.jobs.get(id);
    return record && copy(record.job);
  }

  async findByIdempotencyKey(key: string): Promise<Job | undefined> {
    const id = this.byIdempotencyKey.get(key);
    return id === undefined ? undefined : this.getJob(id);
  }

  async listJobs(limit: number, cursor?: string): Promise<Page<Job>> {
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const items: Job[] = [];
    let lastKey = "";
    for (const orderKey of this.order.descending(decodeCursor(cursor))) {
      if (items.length === max) return { items, cursor: encodeCursor(lastKey) };
      items.push(copy(this.jobs.get(this.byOrderKey.get(orderKey)!)!.job));
      lastKey = orderKey;
    }
    return { items };
  }

  async listUnfinishedJobs(): Promise<Job[]> {
    const out: Job[] = [];
    for (const { job } of this.jobs.values()) if (job.status === "queued" || job.status === "running") out.push(copy(job));
    return out;
  }

  async updateJob(id: string, patch: JobPatch, onlyIf?: JobStatus[]): Promise<boolean> {
    const record = this.jobs.get(id);
    if (!record) return false;
    if (onlyIf && !onlyIf.includes(record.job.status)) return false;
    const { throttleRetriesIncrement, finishedAt, error, content, ...fields } = patch;
    assignDefined(record.job, fields);
    if (finishedAt === null) delete record.job.finishedAt;
    else if (finishedAt !== undefined) record.job.finishedAt = finishedAt;
    if (error === null) delete record.job.error;
    else if (error !== undefined) record.job.error = error;
    if (content !== undefined) {
      record.job.content = copy(content);
      record.job.contentVersion++;
    }
    if (throttleRetriesIncrement) record.job.throttleRetries += throttleRetriesIncrement;
    record.job.updatedAt = nowIso();
    return true;
  }

  async listDeliveriesByStatus(
    jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number, filter?: DeliveryFilter,
  ): Promise<Delivery[]> {
    const record = this.jobs.get(jobId);
    if (!record) return [];
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const wanted = new Set(statuses);
    const out: Delivery[] = [];
    const end = Math.min(record.deliveries.length, beforeSeq ?? Infinity);
    for (let seq = Math.max(0, (afterSeq ?? -1) + 1); seq < end && out.length < max; seq++) {
      const d = record.deliveries[seq]!;
      if (wanted.has(d.status) && matchesFilter(d, filter)) out.push(copyDelivery(d));
    }
    return out;
  }

  async listDeliveries(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus, filter?: DeliveryFilter): Promise<Page<Delivery>> {
    const record = this.jobs.get(jobId);
    if (!record) return { items: [] };
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const after = decodeCursor(cursor);
    const items: Delivery[] = [];
    for (let seq = after === undefined ? 0 : Number(after) + 1; seq < record.deliveries.length; seq++) {
      const d = record.deliveries[seq]!;
      if (status !== undefined && d.status !== status) continue;
      if (!matchesFilter(d, filter)) continue;
      if (items.length === max) return { items, cursor: encodeCursor(String(items[items.length - 1]!.seq)) };
      items.push(copyDelivery(d));
    }
    return { items };
  }

  async getDelivery(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    const d = this.jobs.get(jobId)?.byRecipient.get(recipientKey);
    return d && copyDelivery(d);
  }

  async updateDelivery(jobId: string, recipientKey: string, patch: DeliveryPatch, expect?: DeliveryStatus | DeliveryExpectation): Promise<boolean> {
    const record = this.jobs.get(jobId);
    const d = record?.byRecipient.get(recipientKey);
    if (!record || !d) return false;
    if (!matchesExpectation(d, asExpectation(expect))) return false;
    const before = { ...d };
    if (patch.status !== undefined && patch.status !== d.status) {
      record.counts[d.status]--;
      record.counts[patch.status]++;
      d.status = patch.status;
    }
    if (patch.attemptsIncrement) d.attempts += patch.attemptsIncrement;
    if (patch.throttledIncrement) d.throttled += patch.throttledIncrement;
    if (patch.activityId !== undefined) d.activityId = patch.activityId;
    if (patch.reason !== undefined) d.reason = patch.reason;
    if (patch.notBefore === null) delete d.notBefore;
    else if (patch.notBefore !== undefined) d.notBefore = patch.notBefore;
    if (patch.recipient !== undefined) d.recipient = { ...patch.recipient };
    applyCopyFields(d, patch);
    addCounterDelta(record.extra, before, d);
    d.updatedAt = nowIso();
    return true;
  }

  async transitionAll(
    jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange, options?: { resetAttempts?: boolean },
  ): Promise<number> {
    const record = this.jobs.get(jobId);
    if (!record || from === to) return 0;
    const stamp = nowIso();
    let moved = 0;
    const end = Math.min(record.deliveries.length, range?.to ?? Infinity);
    for (let seq = Math.max(0, range?.from ?? 0); seq < end; seq++) {
      const d = record.deliveries[seq]!;
      if (d.status !== from) continue;
      const before = { ...d };
      d.status = to;
      if (reason !== undefined) d.reason = reason;
      if (options?.resetAttempts) {
        d.attempts = 0;
        d.throttled = 0;
        delete d.notBefore;
      }
      addCounterDelta(record.extra, before, d);
      d.updatedAt = stamp;
      moved++;
    }
    record.counts[from] -= moved;
    record.counts[to] += moved;
    return moved;
  }

  async listFinishedBefore(before: string, limit: number): Promise<Job[]> {
    const out: Job[] = [];
    for (const { job } of this.jobs.values()) {
      if (out.length >= limit) break;
      if (FINISHED.has(job.status) && job.finishedAt !== undefined && job.finishedAt < before) out.push(copy(job));
    }
    return out;
  }

  async purgeDeliveries(jobId: string, batch: number): Promise<number> {
    const record = this.jobs.get(jobId);
    if (!record || !FINISHED.has(record.job.status)) return 0;
    const removed = record.deliveries.splice(0, Math.max(1, batch));
    for (const d of removed) record.byRecipient.delete(d.recipientKey);
    return removed.length;
  }

  async removeJob(jobId: string): Promise<boolean> {
    const record = this.jobs.get(jobId);
    if (!record || !FINISHED.has(record.job.status)) return false;
    this.jobs.delete(jobId);
    if (record.job.idempotencyKey !== undefined) this.byIdempotencyKey.delete(record.job.idempotencyKey);
    this.byOrderKey.delete(record.orderKey);
    return true;
  }

  async counts(jobId: string): Promise<DeliveryCounts> {
    return { ...(this.jobs.get(jobId)?.counts ?? zeroCounts()) };
  }

  async copyCounts(jobId: string): Promise<CopyCounts> {
    return addToCopyCounts(emptyCopyCounts(), this.jobs.get(jobId)?.extra ?? {});
  }
}


/** A delivery is flat but for its (flat) recipient: two spreads copy it. */
function copyDelivery(d: Delivery): Delivery {
  return { ...d, recipient: { ...d.recipient } };
}

export function zeroCounts(): DeliveryCounts {
  return { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 };
}
