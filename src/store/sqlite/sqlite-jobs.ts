import type Database from "better-sqlite3";
import { checkSlices, defaultSlices } from "../../cluster/partitions";
import { addToCopyCounts, asExpectation, emptyCopyCounts } from "../delivery-match";
import type {
  CopyCounts, CopyState, Delivery, DeliveryCounts, DeliveryExpectation, DeliveryFilter, DeliveryInput, DeliveryPatch, DeliveryStatus, Job,
  JobPatch, JobStatus, JobStore, NewJob, Page, SeqRange,
} from "../types";
import { clampLimit, decodeCursor, encodeCursor, isInteger, nowIso } from "./cursor";

interface JobRow {
  id: string; idempotency_key: string | null; status: Job["status"]; content: string; audience: string;
  category: string | null; triggered_by: string; created_by?: string | null; created_at: string; updated_at: string; started_at: string | null;
  finished_at: string | null; total: number; throttle_retries: number; error: string | null; slices: string | null;
  content_version?: number; kind?: string | null; parent_id?: string | null; deliver_within?: string | null; retracted_at?: string | null;
}

interface DeliveryRow {
  job_id: string; recipient_key: string; seq: number; status: DeliveryStatus; recipient: string; attempts: number;
  throttled: number; activity_id: string | null; reason: string | null; not_before: number | null; updated_at: string;
  held?: number; content_version?: number | null; copy_state?: string | null; copy_reason?: string | null;
  acknowledged_at?: string | null; acknowledged_by?: string | null;
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
  private readonly transitionRows: Database.Statement;
  private readonly countRows: Database.Statement;
  private readonly countExtras: Database.Statement;
  private readonly countVersions: Database.Statement;
  private readonly countCopies: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {
    const insertJob = db.prepare(`
      INSERT INTO jobs (id, idempotency_key, status, content, audience, category, triggered_by, created_by, created_at, updated_at,
                        started_at, finished_at, total, throttle_retries, error, slices, content_version, kind, parent_id, deliver_within, retracted_at)
      VALUES (@id, @idempotencyKey, @status, @content, @audience, @category, @triggeredBy, @createdBy, @createdAt, @createdAt,
              @startedAt, @finishedAt, @total, 0, @error, @slices, @contentVersion, @kind, @parentId, @deliverWithin, @retractedAt)`);
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
        contentVersion: job.contentVersion ?? 1,
        kind: job.kind ?? null,
        parentId: job.parentId ?? null,
        deliverWithin: job.deliverWithin ? JSON.stringify(job.deliverWithin) : null,
        retractedAt: job.retractedAt ?? null,
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
        finished_at = CASE WHEN @finishedAtGiven THEN @finishedAt ELSE finished_at END,
        error = CASE WHEN @errorGiven THEN @error ELSE error END,
        retracted_at = COALESCE(@retractedAt, retracted_at),
        content = COALESCE(@content, content), content_version = content_version + (@content IS NOT NULL),
        throttle_retries = throttle_retries + @throttleRetriesIncrement, updated_at = @updatedAt
      WHERE id = @id AND (@onlyIf IS NULL OR status IN (SELECT value FROM json_each(@onlyIf)))`);
    this.selectDelivery = db.prepare("SELECT * FROM deliveries WHERE job_id = ? AND recipient_key = ?");
    this.transitionRows = db.prepare(`
      UPDATE deliveries SET status = @to, reason = COALESCE(@reason, reason), updated_at = @updatedAt,
        attempts = CASE WHEN @reset THEN 0 ELSE attempts END, throttled = CASE WHEN @reset THEN 0 ELSE throttled END,
        not_before = CASE WHEN @reset THEN NULL ELSE not_before END
      WHERE job_id = @jobId AND status = @from AND seq >= @fromSeq AND seq < @toSeq`);
    this.countRows = db.prepare("SELECT status, count(*) AS n FROM deliveries WHERE job_id = ? GROUP BY status");
    this.countExtras = db.prepare(`
      SELECT count(acknowledged_at) AS ack, coalesce(sum(status = 'pending' AND held = 1), 0) AS held FROM deliveries WHERE job_id = ?`);
    this.countVersions = db.prepare(`
      SELECT coalesce(content_version, 1) AS v, count(*) AS n FROM deliveries WHERE job_id = ? AND status = 'sent' GROUP BY v`);
    this.countCopies = db.prepare(`
      SELECT copy_state AS state, count(*) AS n FROM deliveries WHERE job_id = ? AND status = 'sent' AND copy_state IS NOT NULL GROUP BY copy_state`);
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
      finishedAtGiven: patch.finishedAt === undefined ? 0 : 1,
      finishedAt: patch.finishedAt ?? null,
      errorGiven: patch.error === undefined ? 0 : 1,
      error: patch.error ?? null,
      retractedAt: patch.retractedAt ?? null,
      content: patch.content === undefined ? null : JSON.stringify(patch.content),
      throttleRetriesIncrement: patch.throttleRetriesIncrement ?? 0,
      updatedAt: nowIso(),
    }).changes === 1;
  }

  async listDeliveriesByStatus(
    jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number, filter?: DeliveryFilter,
  ): Promise<Delivery[]> {
    const unique = [...new Set(statuses)];
    if (unique.length === 0) return [];
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const where = filterSql(filter);
    // One index range (job_id, status, seq) per status, each already in seq order and limited, merged by seq:
    // no sort over every pending delivery of a 100k job.
    const branch = `SELECT * FROM (SELECT * FROM deliveries WHERE job_id = ? AND status = ? AND seq > ? AND seq < ?${where.sql} ORDER BY seq LIMIT ?)`;
    const sql = unique.length === 1 ? branch : `${unique.map(() => branch).join(" UNION ALL ")} ORDER BY seq LIMIT ?`;
    const params: unknown[] = unique.flatMap((s) => [jobId, s, afterSeq ?? -1, beforeSeq ?? Number.MAX_SAFE_INTEGER, ...where.params, max]);
    if (unique.length > 1) params.push(max);
    return (this.statement(sql).all(...params) as DeliveryRow[]).map(deliveryFromRow);
  }

  async listDeliveries(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus, filter?: DeliveryFilter): Promise<Page<Delivery>> {
    const after = decodeCursor(cursor, isInteger) ?? -1;
    const max = clampLimit(limit, Number.MAX_SAFE_INTEGER);
    const where = filterSql(filter);
    const rows = (status === undefined
      ? this.statement(`SELECT * FROM deliveries WHERE job_id = ? AND seq > ?${where.sql} ORDER BY seq LIMIT ?`).all(jobId, after, ...where.params, max + 1)
      : this.statement(`SELECT * FROM deliveries WHERE job_id = ? AND status = ? AND seq > ?${where.sql} ORDER BY seq LIMIT ?`)
        .all(jobId, status, after, ...where.params, max + 1)
    ) as DeliveryRow[];
    const items = rows.slice(0, max).map(deliveryFromRow);
    return rows.length > max ? { items, cursor: encodeCursor(items[items.length - 1]!.seq) } : { items };
  }

  async getDelivery(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    const row = this.selectDelivery.get(jobId, recipientKey) as DeliveryRow | undefined;
    return row && deliveryFromRow(row);
  }

  async updateDelivery(jobId: string, recipientKey: string, patch: DeliveryPatch, expect?: DeliveryStatus | DeliveryExpectation): Promise<boolean> {
    const expectation = asExpectation(expect);
    const conditions = [
      expectation?.status !== undefined ? " AND status = @expectStatus" : "",
      expectation?.copy !== undefined ? " AND copy_state IS @expectCopy" : "",
    ].join("");
    return this.statement(`${SET_DELIVERY}${conditions}`).run({
      expectStatus: expectation?.status ?? null,
      expectCopy: expectation?.copy ?? null,
      heldGiven: patch.held === undefined ? 0 : 1,
      held: patch.held ? 1 : 0,
      contentVersion: patch.contentVersion ?? null,
      copyGiven: patch.copy === undefined ? 0 : 1,
      copy: patch.copy ?? null,
      copyReasonGiven: patch.copyReason === undefined ? 0 : 1,
      copyReason: patch.copyReason ?? null,
      acknowledgedAt: patch.acknowledgedAt ?? null,
      acknowledgedBy: patch.acknowledgedBy ?? null,
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

  async transitionAll(
    jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange, options?: { resetAttempts?: boolean },
  ): Promise<number> {
    if (from === to) return 0;
    return this.transitionRows.run({
      jobId, from, to, reason: reason ?? null, updatedAt: nowIso(), fromSeq: range?.from ?? 0, toSeq: range?.to ?? Number.MAX_SAFE_INTEGER,
      reset: options?.resetAttempts ? 1 : 0,
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

  async copyCounts(jobId: string): Promise<CopyCounts> {
    const extras = this.countExtras.get(jobId) as { ack: number; held: number };
    const counts = emptyCopyCounts();
    counts.acknowledged = extras.ack;
    counts.held = extras.held;
    for (const { v, n } of this.countVersions.all(jobId) as Array<{ v: number; n: number }>) counts.versions[String(v)] = n;
    for (const { state, n } of this.countCopies.all(jobId) as Array<{ state: CopyState; n: number }>) counts.copies[state] = n;
    return addToCopyCounts(counts, {});
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}

const SET_DELIVERY = `
  UPDATE deliveries SET status = COALESCE(@status, status), attempts = attempts + @attempts,
    throttled = throttled + @throttled, activity_id = COALESCE(@activityId, activity_id),
    reason = COALESCE(@reason, reason),
    not_before = CASE WHEN @notBeforeGiven THEN @notBefore ELSE not_before END,
    recipient = COALESCE(@recipient, recipient),
    held = CASE WHEN @heldGiven THEN @held ELSE held END,
    content_version = COALESCE(@contentVersion, content_version),
    copy_state = CASE WHEN @copyGiven THEN @copy ELSE copy_state END,
    copy_reason = CASE WHEN @copyReasonGiven THEN @copyReason ELSE copy_reason END,
    acknowledged_at = COALESCE(@acknowledgedAt, acknowledged_at),
    acknowledged_by = COALESCE(@acknowledgedBy, acknowledged_by),
    updated_at = @updatedAt
  WHERE job_id = @jobId AND recipient_key = @recipientKey`;

/** The WHERE clauses of a DeliveryFilter (appended after the job/status/seq conditions) and their parameters. */
function filterSql(filter: DeliveryFilter | undefined): { sql: string; params: unknown[] } {
  if (!filter) return { sql: "", params: [] };
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.contentVersionBelow !== undefined) {
    parts.push("coalesce(content_version, 1) < ?");
    params.push(filter.contentVersionBelow);
  }
  if (filter.copy !== undefined) {
    const states = filter.copy.filter((c): c is CopyState => c !== null);
    const alternatives = [
      ...(filter.copy.includes(null) ? ["copy_state IS NULL"] : []),
      ...(states.length ? [`copy_state IN (${states.map(() => "?").join(", ")})`] : []),
    ];
    parts.push(alternatives.length ? `(${alternatives.join(" OR ")})` : "0");
    params.push(...states);
  }
  if (filter.acknowledged !== undefined) parts.push(filter.acknowledged ? "acknowledged_at IS NOT NULL" : "acknowledged_at IS NULL");
  if (filter.held !== undefined) parts.push(filter.held ? "held = 1" : "held = 0");
  return { sql: parts.map((p) => ` AND ${p}`).join(""), params };
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
    contentVersion: row.content_version ?? 1,
  };
  if (row.kind === "reminder") job.kind = "reminder";
  if (row.parent_id) job.parentId = row.parent_id;
  if (row.deliver_within) job.deliverWithin = JSON.parse(row.deliver_within);
  if (row.retracted_at) job.retractedAt = row.retracted_at;
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
  if (row.held) d.held = true;
  if (row.content_version !== null && row.content_version !== undefined) d.contentVersion = row.content_version;
  if (row.copy_state) d.copy = row.copy_state as CopyState;
  if (row.copy_reason) d.copyReason = row.copy_reason;
  if (row.acknowledged_at) d.acknowledgedAt = row.acknowledged_at;
  if (row.acknowledged_by) d.acknowledgedBy = row.acknowledged_by;
  return d;
}
