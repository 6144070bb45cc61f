/**
 * Deliveries and their counters in Azure Table Storage (`deliveries` table). For job J, with p = encodeKey(J)+"!!":
 *
 *   PK p+"d"+<seq div 2000, 6 digits>   RK "d:<seq, 10 digits>"   a delivery
 *                                       RK "c:<shard>"            counter shard: a count per status
 *   PK p+"i"                            RK "meta"                 { total, partitionSize, indexBuckets }
 *                                       RK "x:<bucket>"           { map: {recipientKey: seq, ...} } (~100 keys)
 *
 * - RowKey order is seq order (globally, since the seq is in the RowKey), so claiming in seq order and paging
 *   are one PartitionKey-range query over the job's delivery partitions; counter and index rows sit outside
 *   the "d:" RowKey range and never show up in listings.
 * - getDelivery/updateDelivery by recipientKey are point reads: meta, then the hash bucket holding the key's
 *   seq, then the delivery. Meta and buckets never change after createJob, so they are cached.
 * - Exact counts: a status change writes the delivery and one counter shard of the same partition in one
 *   entity group transaction, both with If-Match on the ETags just read — both change or neither, and a lost
 *   race (412) is re-read and redone on another shard. Four shards per partition spread concurrent writers;
 *   `counts` sums the shards with point reads (4 per 2,000 deliveries), never a scan of the deliveries.
 * - Partitions of 2,000 deliveries keep transactions (100 rows, one partition) full while spreading a large
 *   job over partition servers — and keep Azurite, whose writes cost O(partition size), linear.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import {
  addCounterDelta, addToCopyCounts, applyCopyFields, COPY_STATES, emptyCopyCounts, isCounterKey, matchesExpectation, matchesFilter,
} from "../delivery-match";
import type {
  CopyCounts, CopyState, Delivery, DeliveryCounts, DeliveryExpectation, DeliveryFilter, DeliveryInput, DeliveryPatch, DeliveryRecipient,
  DeliveryStatus, Page, SeqRange,
} from "../types";
import { DeliveryWriter } from "./delivery-writer";
import { encodeKey, KEY_SEPARATOR, padNumber, stableHash } from "./keys";
import {
  chunk, clampLimit, decodeCursor, deleteRows, doubleProperty, encodeCursor, forEachBounded, getJson, getRow, isConflict,
  isNotFound, isPreconditionFailed, literal, MAX_BATCH, nowIso, numberOf, optionalString, putJson, queryRows,
  withOptimisticRetry, type Entity, type Row,
} from "./table-helpers";

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"];

const PARTITION_SIZE = 2000;
const SHARDS = 4;
const KEYS_PER_INDEX_BUCKET = 100;
/** Requests in flight while a job is written or its counters are read. */
const CONCURRENCY = 16;
const META_CACHE_LIMIT = 1000;
const BUCKET_CACHE_LIMIT = 5000;

interface Meta {
  total: number;
  partitionSize: number;
  indexBuckets: number;
}

const jobPrefix = (jobId: string) => encodeKey(jobId) + KEY_SEPARATOR;
const deliveryPartition = (jobId: string, seq: number, size: number) => `${jobPrefix(jobId)}d${padNumber(Math.floor(seq / size), 6)}`;
const indexPartition = (jobId: string) => `${jobPrefix(jobId)}i`;
const deliveryRowKey = (seq: number) => `d:${padNumber(seq)}`;
const shardRowKey = (shard: number) => `c:${padNumber(shard, 2)}`;
const bucketRowKey = (bucket: number) => `x:${padNumber(bucket, 6)}`;
const bucketOf = (recipientKey: string, buckets: number) => stableHash(recipientKey) % buckets;

export class DeliveryTable {
  private readonly metaCache = new Map<string, Meta>();
  private readonly bucketCache = new Map<string, Map<string, number>>();
  private readonly writer: DeliveryWriter;

  constructor(private readonly table: TableClient) {
    this.writer = new DeliveryWriter({
      table, shards: SHARDS, shardRowKey, deliveryRowKey, toEntity, fromRow, applyPatch, counterAction, counterDelta,
      slowPath: (jobId, partitionKey, seq, patch, expected) => this.patchAt(jobId, partitionKey, seq, patch, expected),
    });
  }

  /**
   * Writes deliveries (first occurrence of a recipientKey wins; seq 0..n-1), counters, the recipient index and
   * finally the meta row. Upserts, so a retried write of the same job converges. Returns the number written.
   */
  async create(jobId: string, inputs: DeliveryInput[]): Promise<number> {
    const seen = new Set<string>();
    const unique = inputs.filter((d) => !seen.has(d.recipientKey) && seen.add(d.recipientKey));
    const stamp = nowIso();
    const meta: Meta = {
      total: unique.length, partitionSize: PARTITION_SIZE,
      indexBuckets: Math.max(1, Math.ceil(unique.length / KEYS_PER_INDEX_BUCKET)),
    };

    // Deliveries with their partition's initial counts (shard 0), as transactions of 100 per partition.
    const batches: TransactionAction[][] = [];
    for (let start = 0; start < unique.length; start += PARTITION_SIZE) {
      const partitionKey = deliveryPartition(jobId, start, PARTITION_SIZE);
      const initial: Record<string, number> = {};
      const actions: TransactionAction[] = [];
      unique.slice(start, start + PARTITION_SIZE).forEach((input, i) => {
        const status = input.status ?? "pending";
        const delivery: Delivery = {
          jobId, recipientKey: input.recipientKey, seq: start + i, status, recipient: input.recipient, attempts: 0, throttled: 0,
          ...(input.reason !== undefined ? { reason: input.reason } : {}), updatedAt: stamp,
        };
        counterDelta(initial, undefined, delivery);
        actions.push(["upsert", toEntity(partitionKey, delivery), "Replace"]);
      });
      actions.push(["upsert", { partitionKey, rowKey: shardRowKey(0), ...counterProps(initial) }, "Replace"]);
      for (let s = 1; s < SHARDS; s++) actions.push(["upsert", { partitionKey, rowKey: shardRowKey(s), ...counterProps({}) }, "Replace"]);
      batches.push(...chunk(actions, MAX_BATCH));
    }

    // The recipient index: recipientKey → seq, ~100 keys per row.
    const buckets = Array.from({ length: meta.indexBuckets }, () => ({} as Record<string, number>));
    unique.forEach((d, seq) => { buckets[bucketOf(d.recipientKey, meta.indexBuckets)]![d.recipientKey] = seq; });
    const indexKey = indexPartition(jobId);
    const indexActions = buckets.map((map, bucket): TransactionAction => {
      const entity: Entity = { partitionKey: indexKey, rowKey: bucketRowKey(bucket) };
      putJson(entity, "map", map);
      return ["upsert", entity, "Replace"];
    });
    batches.push(...chunk(indexActions, MAX_BATCH));

    await forEachBounded(batches, CONCURRENCY, async (batch) => {
      await this.table.submitTransaction(batch);
    });
    // Meta last: until it exists, the job's deliveries are invisible to point lookups.
    await this.table.upsertEntity({ partitionKey: indexKey, rowKey: "meta", ...meta }, "Replace");
    this.cacheMeta(jobId, meta);
    return unique.length;
  }

  async get(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    const at = await this.locate(jobId, recipientKey);
    if (!at) return undefined;
    const row = await getRow(this.table, at.partitionKey, deliveryRowKey(at.seq));
    if (row) this.writer.remember(jobId, row);
    return row && fromRow(jobId, row);
  }

  /**
   * Applies the patch; a status change moves one count between statuses atomically with the delivery. Updates of
   * one partition are committed together (delivery-writer.ts).
   */
  async update(jobId: string, recipientKey: string, patch: DeliveryPatch, expected?: DeliveryExpectation): Promise<boolean> {
    const at = await this.locate(jobId, recipientKey);
    return at !== undefined && this.writer.update(jobId, at.partitionKey, at.seq, patch, expected);
  }

  /** Moves every delivery in `from` to `to`; counters move with each transaction of up to 99 deliveries. */
  async transitionAll(
    jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange, options?: { resetAttempts?: boolean },
  ): Promise<number> {
    if (from === to) return 0;
    const filter = `${deliveryRange(jobId, range && range.from > 0 ? range.from - 1 : undefined, range?.to)} and status eq ${literal(from)}`;
    const patch: TransitionPatch = { status: to, ...(reason !== undefined ? { reason } : {}), ...(options?.resetAttempts ? { resetAttempts: true } : {}) };
    this.writer.forgetJob(jobId);
    let moved = 0;
    let batchNo = 0;
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      const byPartition = new Map<string, Row[]>();
      for (const row of page as Row[]) byPartition.set(row.partitionKey!, [...(byPartition.get(row.partitionKey!) ?? []), row]);
      const batches = [...byPartition.values()].flatMap((rows) => chunk(rows, MAX_BATCH - 1));
      await forEachBounded(batches, CONCURRENCY, async (rows) => {
        const n = await this.transitionBatch(jobId, rows, batchNo++ % SHARDS, from, to, patch);
        moved += n; // not `moved += await ...`: that reads `moved` before the await and loses concurrent adds
      });
    }
    return moved;
  }

  async listByStatus(
    jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number, filter?: DeliveryFilter,
  ): Promise<Delivery[]> {
    if (statuses.length === 0) return [];
    const after = afterSeq !== undefined && afterSeq >= 0 ? Math.floor(afterSeq) : undefined;
    if (beforeSeq !== undefined && beforeSeq <= (after ?? -1) + 1) return [];
    const anyStatus = statuses.map((s) => `status eq ${literal(s)}`).join(" or ");
    const rows = await this.query(jobId, `${deliveryRange(jobId, after, beforeSeq)} and (${anyStatus})`, clampLimit(limit, 100_000), filter);
    for (const row of rows) this.writer.remember(jobId, row);
    return rows.map((row) => fromRow(jobId, row));
  }

  async list(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus, deliveryFilter?: DeliveryFilter): Promise<Page<Delivery>> {
    const max = clampLimit(limit, 100_000);
    const decoded = decodeCursor(cursor);
    const after = decoded !== undefined && /^\d+$/.test(decoded) ? Number(decoded) : undefined;
    const filter = deliveryRange(jobId, after) + (status !== undefined ? ` and status eq ${literal(status)}` : "");
    const rows = await this.query(jobId, filter, max + 1, deliveryFilter);
    const items = rows.slice(0, max).map((row) => fromRow(jobId, row));
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(String(items[items.length - 1]!.seq)) };
  }

  /**
   * Retention: removes up to `batch` rows of the job (deliveries, counter shards, the recipient index and meta —
   * everything under the job's PartitionKey prefix) with partition-scoped batch deletes. How many went.
   */
  async purge(jobId: string, batch: number): Promise<number> {
    const prefix = jobPrefix(jobId);
    const rows = await queryRows(this.table, `PartitionKey ge ${literal(prefix)} and PartitionKey lt ${literal(`${prefix}~`)}`,
      Math.max(1, batch), ["PartitionKey", "RowKey"]);
    const byPartition = new Map<string, string[]>();
    for (const row of rows) byPartition.set(row.partitionKey!, [...(byPartition.get(row.partitionKey!) ?? []), row.rowKey!]);
    let removed = 0;
    for (const [partitionKey, rowKeys] of byPartition) removed += await deleteRows(this.table, partitionKey, rowKeys);
    this.writer.forgetJob(jobId);
    this.metaCache.delete(jobId);
    return removed;
  }

  /**
   * Rows of one range query in key order, up to `max` of those the DeliveryFilter keeps. The filter is applied
   * here rather than in OData: rows written before a property existed lack it, and Table queries cannot test
   * for an absent property.
   */
  private async query(jobId: string, odata: string, max: number, filter: DeliveryFilter | undefined): Promise<Row[]> {
    if (!filter) return queryRows(this.table, odata, max);
    const rows: Row[] = [];
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata } }).byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      for (const row of page as Row[]) {
        if (!matchesFilter(fromRow(jobId, row), filter)) continue;
        rows.push(row);
        if (rows.length >= max) return rows;
      }
    }
    return rows;
  }

  async counts(jobId: string): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 };
    for (const shard of await this.shards(jobId)) for (const status of DELIVERY_STATUSES) counts[status] += numberOf(shard, status) ?? 0;
    counts.total = DELIVERY_STATUSES.reduce((sum, s) => sum + counts[s], 0);
    return counts;
  }

  /** The other counters live on the same shards (point reads, like `counts`). */
  async copyCounts(jobId: string): Promise<CopyCounts> {
    const counts = emptyCopyCounts();
    for (const shard of await this.shards(jobId)) addToCopyCounts(counts, counterValues(shard, false));
    return counts;
  }

  /** Every counter shard of the job: 4 point reads per 2,000 deliveries. */
  private async shards(jobId: string): Promise<Row[]> {
    const meta = await this.meta(jobId);
    if (!meta || meta.total === 0) return [];
    const keys: Array<[string, string]> = [];
    for (let start = 0; start < meta.total; start += meta.partitionSize) {
      const partitionKey = deliveryPartition(jobId, start, meta.partitionSize);
      for (let s = 0; s < SHARDS; s++) keys.push([partitionKey, shardRowKey(s)]);
    }
    const rows: Row[] = [];
    await forEachBounded(keys, CONCURRENCY * 2, async ([partitionKey, rowKey]) => {
      const shard = await getRow(this.table, partitionKey, rowKey);
      if (shard) rows.push(shard);
    });
    return rows;
  }

  private async transitionBatch(
    jobId: string, rows: Row[], shard: number, from: DeliveryStatus, to: DeliveryStatus, patch: TransitionPatch,
  ): Promise<number> {
    const partitionKey = rows[0]!.partitionKey!;
    const counter = await getRow(this.table, partitionKey, shardRowKey(shard));
    const delta: Record<string, number> = {};
    const actions: TransactionAction[] = rows.map((row) => {
      const before = fromRow(jobId, row);
      const after = applyPatch(before, patch);
      counterDelta(delta, before, after);
      return ["update", toEntity(partitionKey, after), "Replace", { etag: row.etag }];
    });
    actions.push(counterAction(partitionKey, shard, counter, delta));
    try {
      await this.table.submitTransaction(actions);
      return rows.length;
    } catch (error) {
      if (!isPreconditionFailed(error) && !isConflict(error) && !isNotFound(error)) throw error;
    }
    // A delivery or the shard changed meanwhile: move the rows one by one, each only if still in `from`.
    let moved = 0;
    await forEachBounded(rows, 8, async (row) => {
      if (await this.patchAt(jobId, partitionKey, numberOf(row, "seq") ?? -1, patch, { status: from })) moved++;
    });
    return moved;
  }

  /**
   * Read the delivery (and, for a status change, one counter shard) with their ETags, write them back with
   * If-Match in one transaction; on 412/409 re-read and redo. With `expected`, only a delivery still in that
   * status is changed. True when it wrote.
   */
  private async patchAt(jobId: string, partitionKey: string, seq: number, patch: DeliveryPatch, expected?: DeliveryExpectation): Promise<boolean> {
    return withOptimisticRetry(async (round) => {
      const shard = (seq + round) % SHARDS; // a lost race moves on to another shard
      const row = await getRow(this.table, partitionKey, deliveryRowKey(seq));
      if (!row) return false;
      const before = fromRow(jobId, row);
      if (!matchesExpectation(before, expected)) return false;
      const after = applyPatch(before, patch);
      const delta: Record<string, number> = {};
      counterDelta(delta, before, after);
      if (!Object.values(delta).some((n) => n !== 0)) {
        await this.table.updateEntity(toEntity(partitionKey, after), "Replace", { etag: row.etag });
        return true;
      }
      const counter = await getRow(this.table, partitionKey, shardRowKey(shard));
      await this.table.submitTransaction([
        ["update", toEntity(partitionKey, after), "Replace", { etag: row.etag }],
        counterAction(partitionKey, shard, counter, delta),
      ]);
      return true;
    });
  }

  /** Where a recipient's delivery lives: meta → index bucket → seq → partition. */
  private async locate(jobId: string, recipientKey: string): Promise<{ partitionKey: string; seq: number } | undefined> {
    const meta = await this.meta(jobId);
    if (!meta || meta.total === 0) return undefined;
    const bucket = bucketOf(recipientKey, meta.indexBuckets);
    const cacheKey = `${jobId}\n${bucket}`;
    let map = this.bucketCache.get(cacheKey);
    if (!map) {
      const row = await getRow(this.table, indexPartition(jobId), bucketRowKey(bucket));
      map = new Map(Object.entries(row ? getJson<Record<string, number>>(row, "map") ?? {} : {}));
      remember(this.bucketCache, cacheKey, map, BUCKET_CACHE_LIMIT);
    }
    const seq = map.get(recipientKey);
    return seq === undefined ? undefined : { partitionKey: deliveryPartition(jobId, seq, meta.partitionSize), seq };
  }

  private async meta(jobId: string): Promise<Meta | undefined> {
    const cached = this.metaCache.get(jobId);
    if (cached) return cached;
    const row = await getRow(this.table, indexPartition(jobId), "meta");
    if (!row) return undefined; // not cached: the job may still be being written
    const meta: Meta = {
      total: numberOf(row, "total") ?? 0,
      partitionSize: numberOf(row, "partitionSize") ?? PARTITION_SIZE,
      indexBuckets: numberOf(row, "indexBuckets") ?? 1,
    };
    this.cacheMeta(jobId, meta);
    return meta;
  }

  private cacheMeta(jobId: string, meta: Meta): void {
    remember(this.metaCache, jobId, meta, META_CACHE_LIMIT);
    for (const key of [...this.bucketCache.keys()]) if (key.startsWith(`${jobId}\n`)) this.bucketCache.delete(key);
  }
}

/** Bounded cache: evicts the oldest tenth when full (Map iterates in insertion order). */
function remember<V>(cache: Map<string, V>, key: string, value: V, limit: number): void {
  if (cache.size >= limit) {
    let drop = Math.ceil(limit / 10);
    for (const k of cache.keys()) {
      cache.delete(k);
      if (--drop === 0) break;
    }
  }
  cache.set(key, value);
}

/** The job's delivery rows (optionally only those after `afterSeq` and before `beforeSeq`), in seq order. */
function deliveryRange(jobId: string, afterSeq?: number, beforeSeq?: number): string {
  const prefix = jobPrefix(jobId);
  const low = afterSeq === undefined ? `${prefix}d` : deliveryPartition(jobId, afterSeq, PARTITION_SIZE);
  const rowLow = afterSeq === undefined ? "RowKey ge 'd:'" : `RowKey gt ${literal(deliveryRowKey(afterSeq))}`;
  if (beforeSeq === undefined) {
    return `PartitionKey ge ${literal(low)} and PartitionKey lt ${literal(`${prefix}e`)} and ${rowLow} and RowKey lt 'd;'`;
  }
  const high = deliveryPartition(jobId, Math.max(0, beforeSeq - 1), PARTITION_SIZE);
  return `PartitionKey ge ${literal(low)} and PartitionKey le ${literal(high)} and ${rowLow} and RowKey lt ${literal(deliveryRowKey(beforeSeq))}`;
}

/** The transaction step that adds `delta` to one counter shard (creating it when it does not exist). */
function counterAction(partitionKey: string, shard: number, current: Row | undefined, delta: Record<string, number>): TransactionAction {
  const values = current ? counterValues(current, true) : {};
  for (const [key, n] of Object.entries(delta)) values[key] = (values[key] ?? 0) + n;
  const entity = { partitionKey, rowKey: shardRowKey(shard), ...counterProps(values) };
  // "create" fails with 409 when a racing writer created the shard first: the caller re-reads and retries.
  return current ? ["update", entity, "Replace", { etag: current.etag }] : ["create", entity];
}

/** Status counts and the other counters (delivery-match.ts) of one delivery changing from `before` to `after`. */
function counterDelta(delta: Record<string, number>, before: Delivery | undefined, after: Delivery | undefined): void {
  if (before?.status !== after?.status) {
    if (before) delta[before.status] = (delta[before.status] ?? 0) - 1;
    if (after) delta[after.status] = (delta[after.status] ?? 0) + 1;
  }
  addCounterDelta(delta, before, after);
}

/** A shard's counters: every status (when `statuses`) and every other counter property it holds. */
function counterValues(row: Row, statuses: boolean): Record<string, number> {
  const values: Record<string, number> = {};
  for (const key of Object.keys(row)) {
    if (isCounterKey(key) || (statuses && (DELIVERY_STATUSES as readonly string[]).includes(key))) {
      const n = numberOf(row, key);
      if (n !== undefined) values[key] = n;
    }
  }
  return values;
}

/** Every status (0 when none) and the non-zero other counters: a Replace keeps exactly these. */
function counterProps(values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const status of DELIVERY_STATUSES) out[status] = values[status] ?? 0;
  for (const [key, n] of Object.entries(values)) if (isCounterKey(key) && n !== 0) out[key] = n;
  return out;
}

/** transitionAll's patch: a retry of failed deliveries also starts their attempts again. */
type TransitionPatch = DeliveryPatch & { resetAttempts?: boolean };

function applyPatch(d: Delivery, patch: TransitionPatch): Delivery {
  const next: Delivery = { ...d, updatedAt: nowIso() };
  if (patch.status !== undefined) next.status = patch.status;
  if (patch.attemptsIncrement) next.attempts += patch.attemptsIncrement;
  if (patch.throttledIncrement) next.throttled += patch.throttledIncrement;
  if (patch.activityId !== undefined) next.activityId = patch.activityId;
  if (patch.reason !== undefined) next.reason = patch.reason;
  if (patch.notBefore === null) delete next.notBefore;
  else if (patch.notBefore !== undefined) next.notBefore = patch.notBefore;
  if (patch.recipient !== undefined) next.recipient = patch.recipient;
  if (patch.resetAttempts) {
    next.attempts = 0;
    next.throttled = 0;
    delete next.notBefore;
  }
  applyCopyFields(next, patch);
  return next;
}

function toEntity(partitionKey: string, d: Delivery): Entity {
  const entity: Entity = {
    partitionKey, rowKey: deliveryRowKey(d.seq),
    recipientKey: d.recipientKey, seq: d.seq, status: d.status, attempts: d.attempts, throttled: d.throttled, updatedAt: d.updatedAt,
  };
  if (d.activityId !== undefined) entity.activityId = d.activityId;
  if (d.reason !== undefined) entity.reason = d.reason;
  if (d.notBefore !== undefined) entity.notBefore = doubleProperty(d.notBefore);
  if (d.held) entity.held = true;
  if (d.contentVersion !== undefined) entity.contentVersion = d.contentVersion;
  if (d.copy !== undefined) entity.copy = d.copy;
  if (d.copyReason !== undefined) entity.copyReason = d.copyReason;
  if (d.acknowledgedAt !== undefined) entity.acknowledgedAt = d.acknowledgedAt;
  if (d.acknowledgedBy !== undefined) entity.acknowledgedBy = d.acknowledgedBy;
  putJson(entity, "recipient", d.recipient);
  return entity;
}

function fromRow(jobId: string, row: Row): Delivery {
  const d: Delivery = {
    jobId,
    recipientKey: String(row.recipientKey),
    seq: numberOf(row, "seq") ?? 0,
    status: String(row.status) as DeliveryStatus,
    recipient: getJson<DeliveryRecipient>(row, "recipient") ?? ({} as DeliveryRecipient),
    attempts: numberOf(row, "attempts") ?? 0,
    throttled: numberOf(row, "throttled") ?? 0,
    updatedAt: String(row.updatedAt),
  };
  const activityId = optionalString(row, "activityId");
  if (activityId !== undefined) d.activityId = activityId;
  const reason = optionalString(row, "reason");
  if (reason !== undefined) d.reason = reason;
  const notBefore = numberOf(row, "notBefore");
  if (notBefore !== undefined) d.notBefore = notBefore;
  if (row.held === true) d.held = true;
  const contentVersion = numberOf(row, "contentVersion");
  if (contentVersion !== undefined) d.contentVersion = contentVersion;
  const copy = optionalString(row, "copy");
  if (copy !== undefined && (COPY_STATES as readonly string[]).includes(copy)) d.copy = copy as CopyState;
  for (const field of ["copyReason", "acknowledgedAt", "acknowledgedBy"] as const) {
    const value = optionalString(row, field);
    if (value !== undefined) d[field] = value;
  }
  return d;
}
