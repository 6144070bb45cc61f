/**
 * Jobs in Azure Table Storage (`jobs` table; deliveries live in DeliveryTable):
 *
 *   PK "job"   RK <id>                                the Job — written last, so its existence means "complete"
 *   PK "time"  RK <10^15 - createdAt ms>!!<id>         newest-first listing, → { jobId }
 *   PK "open"  RK <id>                                queued/running jobs, for resuming at start
 *   PK "idem"  RK <idempotencyKey>                    → { jobId, claimedAt }: the idempotency claim
 *
 * Idempotency: the claim row is inserted with createEntity before anything else. 409 means another call owns
 * the key: its job is returned once written (we poll while the owner writes its deliveries). A claim whose job
 * never appears (its writer died) is taken over after `idempotencyTakeoverMs`, deleting it with If-Match so
 * two callers cannot both take it over.
 */
import type { TableClient } from "@azure/data-tables";
import { checkSlices, defaultSlices } from "../../cluster/partitions";
import type {
  Delivery, DeliveryCounts, DeliveryInput, DeliveryPatch, DeliveryStatus, Job, JobPatch, JobStatus, JobStore, NewJob, Page, SeqRange,
} from "../types";
import type { Logger } from "../../logger";
import type { DeliveryTable } from "./delivery-table";
import { workEntity } from "./work-table";
import { compositeKey, encodeKey, padNumber } from "./keys";
import {
  clampLimit, decodeCursor, deleteIfPresent, encodeCursor, forEachBounded, getJson, getRow,
  isConflict, isNotFound, isPreconditionFailed, literal, nowIso, numberOf, optionalString, putJson, queryRows, withOptimisticRetry,
  type Entity, type Row,
} from "./table-helpers";

export interface JobTableOptions {
  /** How long an idempotency claim may stay without its job before another caller takes it over. */
  idempotencyTakeoverMs?: number;
  /** How often a caller waiting for another's job re-checks. */
  idempotencyPollMs?: number;
}

const JOB = "job";
const TIME = "time";
const OPEN = "open";
const IDEM = "idem";
const UNFINISHED = new Set(["queued", "running"]);
const FINISHED = new Set(["completed", "failed", "cancelled"]);

const timeRowKey = (createdAt: string, id: string) =>
  compositeKey(padNumber(1e15 - (Date.parse(createdAt) || 0), 15), id);

export class AzureJobStore implements JobStore {
  private readonly takeoverMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly table: TableClient,
    private readonly deliveries: DeliveryTable,
    private readonly work: TableClient,
    private readonly logger: Logger,
    options: JobTableOptions = {},
  ) {
    this.takeoverMs = options.idempotencyTakeoverMs ?? 5 * 60_000;
    this.pollMs = options.idempotencyPollMs ?? 250;
  }

  async createJob(input: NewJob, deliveries: DeliveryInput[]): Promise<{ job: Job; created: boolean }> {
    let claimEtag: string | undefined;
    if (input.idempotencyKey !== undefined) {
      const claim = await this.claimIdempotencyKey(input.idempotencyKey, input.id);
      if ("owner" in claim) return { job: claim.owner, created: false };
      claimEtag = claim.etag;
    } else if (await this.getJob(input.id)) {
      throw new Error(`job ${input.id} already exists`); // like the other backends: ids are never reused
    }
    try {
      const unique = firstOccurrences(deliveries);
      const slices = input.slices ?? defaultSlices(unique.length);
      checkSlices(slices, unique.length);
      const total = await this.deliveries.create(input.id, unique);
      const job: Job = { ...structuredClone(input), slices, total, throttleRetries: 0, updatedAt: input.createdAt };
      // Work items before the job: an owner that finds one whose job is not written yet waits for it.
      await forEachBounded(slices, 8, async (slice) => {
        await this.work.upsertEntity(workEntity({ partition: slice.partition, kind: "job", id: job.id, data: {}, createdAt: job.createdAt }), "Replace");
      });
      await this.table.upsertEntity({ partitionKey: TIME, rowKey: timeRowKey(job.createdAt, job.id), jobId: job.id }, "Replace");
      if (UNFINISHED.has(job.status)) await this.table.upsertEntity({ partitionKey: OPEN, rowKey: encodeKey(job.id), jobId: job.id }, "Replace");
      await this.table.createEntity(toEntity(job)); // the commit point
      return { job, created: true };
    } catch (error) {
      // Free the key at once, so a retry need not wait for the takeover delay.
      if (input.idempotencyKey !== undefined && claimEtag) {
        await this.table.deleteEntity(IDEM, encodeKey(input.idempotencyKey), { etag: claimEtag }).catch(() => undefined);
      }
      throw error;
    }
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = await getRow(this.table, JOB, encodeKey(id));
    return row && fromRow(row);
  }

  async findByIdempotencyKey(key: string): Promise<Job | undefined> {
    const claim = await getRow(this.table, IDEM, encodeKey(key));
    return claim ? this.getJob(String(claim.jobId)) : undefined;
  }

  async listJobs(limit: number, cursor?: string): Promise<Page<Job>> {
    const max = clampLimit(limit);
    const after = decodeCursor(cursor);
    const filter = `PartitionKey eq ${literal(TIME)}` + (after !== undefined ? ` and RowKey gt ${literal(after)}` : "");
    const rows = await queryRows(this.table, filter, max + 1);
    const page = rows.slice(0, max);
    const jobs = await this.readJobs(page.map((r) => String(r.jobId)));
    const items = jobs.filter((j): j is Job => j !== undefined); // a job still being written is not listed yet
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(page[page.length - 1]!.rowKey!) };
  }

  async listUnfinishedJobs(): Promise<Job[]> {
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(OPEN)}`, Number.MAX_SAFE_INTEGER);
    const jobs = await this.readJobs(rows.map((r) => String(r.jobId)));
    const unfinished: Job[] = [];
    await forEachBounded(jobs, 8, async (job, i) => {
      if (job && UNFINISHED.has(job.status)) unfinished.push(job);
      else if (job) await deleteIfPresent(this.table, OPEN, rows[i]!.rowKey!); // left over by an interrupted updateJob
    });
    return unfinished.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
  }

  async updateJob(id: string, patch: JobPatch, onlyIf?: JobStatus[]): Promise<boolean> {
    const updated = await withOptimisticRetry(async () => {
      const row = await getRow(this.table, JOB, encodeKey(id));
      if (!row) return undefined;
      const job = fromRow(row);
      if (onlyIf && !onlyIf.includes(job.status)) return null;
      if (patch.status !== undefined) job.status = patch.status;
      if (patch.startedAt !== undefined) job.startedAt = patch.startedAt;
      if (patch.finishedAt !== undefined) job.finishedAt = patch.finishedAt;
      if (patch.error !== undefined) job.error = patch.error;
      if (patch.throttleRetriesIncrement) job.throttleRetries += patch.throttleRetriesIncrement;
      job.updatedAt = nowIso();
      await this.table.updateEntity(toEntity(job), "Replace", { etag: row.etag });
      return job;
    });
    if (updated === null) return false;
    if (!updated) {
      this.logger.warn({ jobId: id }, "updateJob: no such job");
      return false;
    }
    if (patch.status === undefined) return true;
    if (UNFINISHED.has(updated.status)) {
      await this.table.upsertEntity({ partitionKey: OPEN, rowKey: encodeKey(id), jobId: id }, "Replace");
    } else {
      await deleteIfPresent(this.table, OPEN, encodeKey(id));
    }
    return true;
  }

  listDeliveriesByStatus(jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number): Promise<Delivery[]> {
    return this.deliveries.listByStatus(jobId, statuses, limit, afterSeq, beforeSeq);
  }

  listDeliveries(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus): Promise<Page<Delivery>> {
    return this.deliveries.list(jobId, limit, cursor, status);
  }

  getDelivery(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    return this.deliveries.get(jobId, recipientKey);
  }

  async updateDelivery(jobId: string, recipientKey: string, patch: DeliveryPatch, expect?: DeliveryStatus): Promise<boolean> {
    const changed = await this.deliveries.update(jobId, recipientKey, patch, expect);
    if (!changed && expect === undefined) this.logger.warn({ jobId, recipientKey }, "updateDelivery: no such delivery");
    return changed;
  }

  transitionAll(jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange): Promise<number> {
    return this.deliveries.transitionAll(jobId, from, to, reason, range);
  }

  counts(jobId: string): Promise<DeliveryCounts> {
    return this.deliveries.counts(jobId);
  }

  /** Jobs created before `before` come from the listing partition (a RowKey range); then finishedAt decides. */
  async listFinishedBefore(before: string, limit: number): Promise<Job[]> {
    const cutoff = padNumber(1e15 - (Date.parse(before) || 0), 15);
    const out: Job[] = [];
    const pages = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq ${literal(TIME)} and RowKey ge ${literal(cutoff)}` },
    }).byPage({ maxPageSize: 200 });
    for await (const page of pages) {
      const jobs = await this.readJobs((page as Row[]).map((r) => String(r.jobId)));
      for (const job of jobs) {
        if (job && FINISHED.has(job.status) && job.finishedAt !== undefined && job.finishedAt < before) out.push(job);
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  async purgeDeliveries(jobId: string, batch: number): Promise<number> {
    const job = await this.getJob(jobId);
    if (!job || !FINISHED.has(job.status)) return 0;
    return this.deliveries.purge(jobId, batch);
  }

  async removeJob(jobId: string): Promise<boolean> {
    const job = await this.getJob(jobId);
    if (!job || !FINISHED.has(job.status)) return false;
    // The job entity last: while it exists the job is listed and its report answers.
    await deleteIfPresent(this.table, TIME, timeRowKey(job.createdAt, job.id));
    await deleteIfPresent(this.table, OPEN, encodeKey(job.id));
    if (job.idempotencyKey !== undefined) await deleteIfPresent(this.table, IDEM, encodeKey(job.idempotencyKey));
    return deleteIfPresent(this.table, JOB, encodeKey(job.id));
  }

  /** Claims `key` for `jobId`: our claim's ETag (go on and write the job), or the job that owns the key. */
  private async claimIdempotencyKey(key: string, jobId: string): Promise<{ etag: string | undefined } | { owner: Job }> {
    const rowKey = encodeKey(key);
    for (;;) {
      try {
        const created = await this.table.createEntity({ partitionKey: IDEM, rowKey, jobId, claimedAt: nowIso() });
        return { etag: created.etag };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const claim = await getRow(this.table, IDEM, rowKey);
      if (!claim) continue; // taken over and released meanwhile: claim again
      const owner = await this.getJob(String(claim.jobId));
      if (owner) return { owner };
      const age = Date.now() - Date.parse(String(claim.claimedAt));
      if (age > this.takeoverMs) {
        this.logger.warn({ jobId: claim.jobId }, "idempotency claim without a job: taking it over");
        try {
          await this.table.deleteEntity(IDEM, rowKey, { etag: claim.etag });
        } catch (error) {
          if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
        }
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs)); // the owner is still writing its deliveries
    }
  }

  private async readJobs(ids: string[]): Promise<Array<Job | undefined>> {
    const jobs: Array<Job | undefined> = new Array(ids.length);
    await forEachBounded(ids, 16, async (id, i) => {
      jobs[i] = await this.getJob(id);
    });
    return jobs;
  }
}

function toEntity(job: Job): Entity {
  const { content, audience, slices, ...rest } = job;
  const entity: Entity = { partitionKey: JOB, rowKey: encodeKey(job.id) };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) entity[k] = v;
  putJson(entity, "content", content);
  putJson(entity, "audience", audience);
  putJson(entity, "slices", slices);
  return entity;
}

/** A recipient listed twice gets one delivery, at its first position. */
function firstOccurrences(deliveries: DeliveryInput[]): DeliveryInput[] {
  const seen = new Set<string>();
  return deliveries.filter((d) => !seen.has(d.recipientKey) && seen.add(d.recipientKey));
}

function fromRow(row: Row): Job {
  const job: Job = {
    id: String(row.id),
    status: String(row.status) as Job["status"],
    content: getJson(row, "content") ?? { title: "", text: "" },
    audience: getJson(row, "audience") ?? {},
    triggeredBy: String(row.triggeredBy),
    createdAt: String(row.createdAt),
    updatedAt: String(row.updatedAt),
    total: numberOf(row, "total") ?? 0,
    throttleRetries: numberOf(row, "throttleRetries") ?? 0,
    slices: getJson(row, "slices") ?? defaultSlices(numberOf(row, "total") ?? 0),
  };
  for (const field of ["idempotencyKey", "category", "createdBy", "startedAt", "finishedAt", "error"] as const) {
    const value = optionalString(row, field);
    if (value !== undefined) job[field] = value;
  }
  return job;
}
