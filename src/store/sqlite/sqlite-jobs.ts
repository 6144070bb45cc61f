import type Database from "better-sqlite3";
import { checkSlices, defaultSlices } from "../../cluster/partitions";
import type {
  Delivery, DeliveryCounts, DeliveryInput, DeliveryPatch, DeliveryStatus, Job, JobPatch, JobStatus, JobStore, NewJob, Page, SeqRange,
} from "../types";
import { clampLimit, decodeCursor, encodeCursor, isInteger, nowIso } from "./cursor";

interface JobRow {
  id: string; idempotency_key: string | null; status: Job["status"]; content: string; audience: string;
  category: string | null; triggered_by: string; created_by?: string | null; created_at: string; updated_at: string; started_at: string | null;
  finished_at: string | null; total: number; throttle_retries: number; error: string | null; slices: string | null;
}

interface DeliveryRow {
  job_id: string; recipient_key: string; seq: number; status: DeliveryStatus; recipient: string; attempts: number;
  throttled: number; activity_id: string | null; reason: string | null; not_before: number | null; updated_at: string;
}

const isJobCursor = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string";

export class SqliteJobStore implements JobStore {
  private readonly createTx: Database.Transaction<(job: NewJob, deliveries: DeliveryInput[]) => { job: Job; created: boolean }>;
  private readonly selectJob: Database.Statement;
  private readonly selectByIdempotencyKey: Database.Statement;
  private readonly selectJobsFirst: Database.Statement;
  private readonly selectJobsAfter: Database.Statement;
  private readonly selectUnfinished: Database.Statement;
  private readonly updateJobRow: Database.Statement;
  private readonly selectDelivery: Database.Statement;
  private readonly updateDeliveryRow: Database.Statement;
  private readonly transitionRows: Database.Statement;
  private readonly updateDeliveryIfStatus: Database.Statement;
  private readonly countRows: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    const insertJob = db.prepare(`
      INSERT INTO jobs (id, idempotency_key, status, content, audience, category, triggered_by, created_by, created_at, updated_at,
                        started_at, finished_at, total, throttle_retries, error, slices)
      VALUES (@id, @idempotencyKey, @status, @content, @audience, @category, @triggeredBy, @createdBy, @createdAt, @createdAt,
              @startedAt, @finishedAt, @total, 0, @error, @slices)`);
    const insertWork = db.prepare("INSERT OR REPLACE INTO work (partition, kind, id, data, created_at) VALUES (?, 'job', ?, '{}', ?)");
    const insertDelivery = db.prepare(`
      INSERT INTO deliveries (job_id, recipient_key, seq, status, recipient, reason, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.selectJob = db.prepare("SELECT * FROM jobs WHERE id = ?");
    this.selectByIdempotencyKey = db.prepare("SELECT * FROM jobs WHERE idempotency_key = ?");
    // One transaction for the job and all its deliveries: a crash leaves all of it or none of it.
    this.createTx = db.transaction((job: NewJob, deliveries: DeliveryInput[]) => {
      if (job.idempotencyKey !== undefined) {
        const existing = this.selectByIdempotencyKey.get(job.idempotencyKey) as JobRow | undefined;
        if (existing) return { job: jobFromRow(existing), created: false };
      }
      const slices = job.slices ?? defaultSlices(deliveries.length);
      checkSlices(slices, deliveries.length);
      insertJob.run({
        slices: JSON.stringify(slices),
        id: job.id,
        idempotencyKey: job.idempotencyKey ?? null,
        status: job.status,
        content: JSON.stringify(job.content),
        audience: JSON.stringify(job.audience),
        category: job.category ?? null,
        triggeredBy: job.triggeredBy,
        createdBy: job.createdBy ?? null,
        createdAt: job.createdAt,
        startedAt: job.startedAt ?? null,
        finishedAt: job.finishedAt ?? null,
        total: deliveries.length,
        error: job.error ?? null,
      });
      deliveries.forEach((d, seq) => {
        insertDelivery.run(job.id, d.recipientKey, seq, d.status ?? "pending", JSON.stringify(d.recipient), d.reason ?? null, job.createdAt);
      });
      for (const slice of slices) insertWork.run(slice.partition, job.id, job.createdAt);
      return { job: jobFromRow(this.selectJob.get(job.id) as JobRow), created: true };
    });
    this.selectJobsFirst = db.prepare("SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?");
    this.selectJobsAfter = db.prepare(
      "SELECT * FROM jobs WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
    );
    this.selectUnfinished = db.prepare("SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id");
    this.updateJobRow = db.prepare(`
      UPDATE jobs SET status = COALESCE(@status, status), started_at = COALESCE(@startedAt, started_at),
        finished_at = COALESCE(@finishedAt, finished_at), error = COALESCE(@error, error),
        throttle_retries = throttle_retries + @throttleRetriesIncrement, updated_at = @updatedAt
      WHERE id = @id AND (@onlyIf IS NULL OR status IN (SELECT value FROM json_each(@onlyIf)))`);
    this.selectDelivery = db.prepare("SELECT * FROM deliveries WHERE job_id = ? AND recipient_key = ?");
    const setDelivery = `
      UPDATE deliveries SET status = COALESCE(@status, status), attempts = attempts + @attempts,
        throttled = throttled + @throttled, activity_id = COALESCE(@activityId, activity_id),
        reason = COALESCE(@reason, reason),
        not_before = CASE WHEN @notBeforeGiven THEN @notBefore ELSE not_before END,
        recipient = COALESCE(@recipient, recipient), updated_at = @updatedAt
      WHERE job_id = @jobId AND recipient_key = @recipientKey`;
    this.updateDeliveryRow = db.prepare(setDelivery);
    this.updateDeliveryIfStatus = db.prepare(`${setDelivery} AND status = @expect`);
    this.transitionRows = db.prepare(`
      UPDATE deliveries SET status = @to, reason = COALESCE(@reason, reason), updated_at = @updatedAt
      WHERE job_id = @jobId AND status = @from AND seq >= @fromSeq AND seq < @toSeq`);
    this.countRows = db.prepare("SELECT status, count(*) AS n FROM deliveries WHERE job_id = ? GROUP BY status");
  }

  async createJob(job: NewJob, deliveries: DeliveryInput[]): Promise<{ job: Job; created: boolean }> {
    return this.createTx.immediate(job, firstOccurrences(deliveries));
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = this.selectJob.get(id) as JobRow | undefined;
    return row && jobFromRow(row);
  }

  async findByIdempotencyKey(key: string): Promise<Job | undefined> {
    const row = this.selectByIdempotencyKey.get(key) as JobRow | undefined;
    return row && jobFromRow(row);
  }

  async listJobs(limit: number, cursor?: string): Promise<Page<Job>> {
    const after = decodeCursor(cursor, isJobCursor);
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const rows = (after === undefined ? this.selectJobsFirst.all(max + 1) : this.selectJobsAfter.all(after[0], after[1], max + 1)) as JobRow[];
    const items = rows.slice(0, max).map(jobFromRow);
    const last = items[items.length - 1];
    return rows.length > max && last ? { items, cursor: encodeCursor([last.createdAt, last.id]) } : { items };
  }

  async listUnfinishedJobs(): Promise<Job[]> {
    return (this.selectUnfinished.all() as JobRow[]).map(jobFromRow);
  }

  async updateJob(id: string, patch: JobPatch, onlyIf?: JobStatus[]): Promise<boolean> {
    return this.updateJobRow.run({
      onlyIf: onlyIf ? JSON.stringify(onlyIf) : null,
      id,
      status: patch.status ?? null,
      startedAt: patch.startedAt ?? null,
      finishedAt: patch.finishedAt ?? null,
      error: patch.error ?? null,
      throttleRetriesIncrement: patch.throttleRetriesIncrement ?? 0,
      updatedAt: nowIso(),
    }).changes === 1;
  }

  async listDeliveriesByStatus(jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number): Promise<Delivery[]> {
    const unique = [...new Set(statuses)];
    if (unique.length === 0) return [];
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    // One index range (job_id, status, seq) per status, each already in seq order and limited, merged by seq:
    // no sort over every pending delivery of a 100k job.
    const branch = "SELECT * FROM (SELECT * FROM deliveries WHERE job_id = ? AND status = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?)";
    const sql = unique.length === 1 ? branch : `${unique.map(() => branch).join(" UNION ALL ")} ORDER BY seq LIMIT ?`;
    const params: unknown[] = unique.flatMap((s) => [jobId, s, afterSeq ?? -1, beforeSeq ?? Number.MAX_SAFE_INTEGER, max]);
    if (unique.length > 1) params.push(max);
    return (this.statement(sql).all(...params) as DeliveryRow[]).map(deliveryFromRow);
  }

  async listDeliveries(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus): Promise<Page<Delivery>> {
    const after = decodeCursor(cursor, isInteger) ?? -1;
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const rows = (status === undefined
      ? this.statement("SELECT * FROM deliveries WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?").all(jobId, after, max + 1)
      : this.statement("SELECT * FROM deliveries WHERE job_id = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?").all(jobId, status, after, max + 1)
    ) as DeliveryRow[];
    const items = rows.slice(0, max).map(deliveryFromRow);
    return rows.length > max ? { items, cursor: encodeCursor(items[items.length - 1]!.seq) } : { items };
  }

  async getDelivery(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    const row = this.selectDelivery.get(jobId, recipientKey) as DeliveryRow | undefined;
    return row && deliveryFromRow(row);
  }

  async updateDelivery(jobId: string, recipientKey: string, patch: DeliveryPatch, expect?: DeliveryStatus): Promise<boolean> {
    const statement = expect === undefined ? this.updateDeliveryRow : this.updateDeliveryIfStatus;
    return statement.run({
      ...(expect === undefined ? {} : { expect }),
      jobId,
      recipientKey,
      status: patch.status ?? null,
      attempts: patch.attemptsIncrement ?? 0,
      throttled: patch.throttledIncrement ?? 0,
      activityId: patch.activityId ?? null,
      reason: patch.reason ?? null,
      notBeforeGiven: patch.notBefore === undefined ? 0 : 1,
      notBefore: patch.notBefore ?? null,
      recipient: patch.recipient === undefined ? null : JSON.stringify(patch.recipient),
      updatedAt: nowIso(),
    }).changes === 1;
  }

  async transitionAll(jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange): Promise<number> {
    if (from === to) return 0;
    return this.transitionRows.run({
      jobId, from, to, reason: reason ?? null, updatedAt: nowIso(), fromSeq: range?.from ?? 0, toSeq: range?.to ?? Number.MAX_SAFE_INTEGER,
    }).changes;
  }

  async listFinishedBefore(before: string, limit: number): Promise<Job[]> {
    const rows = this.statement(`
      SELECT * FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') AND finished_at < ? ORDER BY finished_at LIMIT ?`)
      .all(before, Math.max(1, limit)) as JobRow[];
    return rows.map(jobFromRow);
  }

  /** A small transaction per batch, so a big purge never holds the write lock for long; freed pages are reused. */
  async purgeDeliveries(jobId: string, batch: number): Promise<number> {
    return this.statement(`
      DELETE FROM deliveries WHERE job_id = ? AND seq IN (
        SELECT d.seq FROM deliveries d JOIN jobs j ON j.id = d.job_id
        WHERE d.job_id = ? AND j.status IN ('completed', 'failed', 'cancelled') ORDER BY d.seq LIMIT ?)`)
      .run(jobId, jobId, Math.max(1, batch)).changes;
  }

  async removeJob(jobId: string): Promise<boolean> {
    return this.statement("DELETE FROM jobs WHERE id = ? AND status IN ('completed', 'failed', 'cancelled')").run(jobId).changes === 1;
  }

  async counts(jobId: string): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 };
    for (const { status, n } of this.countRows.all(jobId) as Array<{ status: DeliveryStatus; n: number }>) {
      counts[status] = n;
      counts.total += n;
    }
    return counts;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}

/** A recipient listed twice gets one delivery, at its first position. */
function firstOccurrences(deliveries: DeliveryInput[]): DeliveryInput[] {
  const seen = new Set<string>();
  const out: DeliveryInput[] = [];
  for (const d of deliveries) {
    if (seen.has(d.recipientKey)) continue;
    seen.add(d.recipientKey);
    out.push(d);
  }
  return out;
}

function jobFromRow(row: JobRow): Job {
  const job: Job = {
    id: row.id,
    status: row.status,
    content: JSON.parse(row.content),
    audience: JSON.parse(row.audience),
    triggeredBy: row.triggered_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    total: row.total,
    throttleRetries: row.throttle_retries,
    slices: row.slices === null ? defaultSlices(row.total) : JSON.parse(row.slices),
  };
  if (row.idempotency_key !== null) job.idempotencyKey = row.idempotency_key;
  if (row.category !== null) job.category = row.category;
  if (row.created_by) job.createdBy = row.created_by;
  if (row.started_at !== null) job.startedAt = row.started_at;
  if (row.finished_at !== null) job.finishedAt = row.finished_at;
  if (row.error !== null) job.error = row.error;
  return job;
}

function deliveryFromRow(row: DeliveryRow): Delivery {
  const d: Delivery = {
    jobId: row.job_id,
    recipientKey: row.recipient_key,
    seq: row.seq,
    status: row.status,
    recipient: JSON.parse(row.recipient),
    attempts: row.attempts,
    throttled: row.throttled,
    updatedAt: row.updated_at,
  };
  if (row.activity_id !== null) d.activityId = row.activity_id;
  if (row.reason !== null) d.reason = row.reason;
  if (row.not_before !== null) d.notBefore = row.not_before;
  return d;
}
