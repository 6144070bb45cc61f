/**
 * Deliveries and their counters in Azure Table Storage — one partition per job (PK = encodeKey(jobId)):
 *
 *   "d:<seq, 10 digits>"          the delivery; RowKey order is seq order, so claiming in seq order is a range read
 *   "r:<encodeKey(recipientKey)>" → { seq }: getDelivery/updateDelivery find a delivery by point reads only
 *   "c:<shard, 2 digits>"         counter shard: a count per status (a shard may go negative; the sum is exact)
 *
 * Counters are exact because every status change writes the delivery and one counter shard in the same entity
 * group transaction, both with If-Match on the ETag just read: either both change or neither does, and a lost
 * race (412) is re-read and redone. Sixteen shards spread concurrent writers so they rarely collide on one
 * counter; `counts` reads the shards with one partition range query. Listings only read the "d:" range.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { Delivery, DeliveryCounts, DeliveryInput, DeliveryPatch, DeliveryRecipient, DeliveryStatus, Page } from "../types";
import { encodeKey, padNumber } from "./keys";
import {
  chunk, clampLimit, decodeCursor, doubleProperty, encodeCursor, forEachBounded, getJson, getRow, literal,
  nowIso, numberOf, optionalString, putJson, queryRows, withOptimisticRetry, type Entity, type Row,
} from "./table-helpers";

export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"];

const SHARDS = 16;
/** Transactions in flight while a job's deliveries are written. */
const WRITE_CONCURRENCY = 16;
/** recipientKey → seq never changes once written, so it is cached (bounded) to save a read per update. */
const SEQ_CACHE_LIMIT = 250_000;

const deliveryRowKey = (seq: number) => `d:${padNumber(seq)}`;
const indexRowKey = (recipientKey: string) => `r:${encodeKey(recipientKey)}`;
const shardRowKey = (shard: number) => `c:${padNumber(shard, 2)}`;
const DELIVERY_RANGE_END = "d;"; // ';' follows ':' — every "d:..." RowKey sorts below it

export class DeliveryTable {
  private readonly seqCache = new Map<string, number>();

  constructor(private readonly table: TableClient) {}

  /**
   * Writes deliveries (first occurrence of a recipientKey wins; seq 0..n-1) and the initial counters.
   * Upserts, so a retried write of the same job converges. Returns the number written.
   */
  async create(jobId: string, inputs: DeliveryInput[]): Promise<number> {
    const partitionKey = encodeKey(jobId);
    const seen = new Set<string>();
    const unique = inputs.filter((d) => !seen.has(d.recipientKey) && seen.add(d.recipientKey));
    const stamp = nowIso();
    const initial: Record<string, number> = {};
    const deliveries = unique.map((input, seq): Delivery => {
      const status = input.status ?? "pending";
      initial[status] = (initial[status] ?? 0) + 1;
      return {
        jobId, recipientKey: input.recipientKey, seq, status, recipient: input.recipient, attempts: 0, throttled: 0,
        ...(input.reason !== undefined ? { reason: input.reason } : {}), updatedAt: stamp,
      };
    });
    // A delivery and its index row travel in the same transaction: 50 pairs = 100 operations.
    await forEachBounded(chunk(deliveries, 50), WRITE_CONCURRENCY, async (batch) => {
      const actions: TransactionAction[] = [];
      for (const d of batch) {
        actions.push(["upsert", toEntity(partitionKey, d), "Replace"]);
        actions.push(["upsert", { partitionKey, rowKey: indexRowKey(d.recipientKey), seq: d.seq }, "Replace"]);
      }
      await this.table.submitTransaction(actions);
    });
    if (deliveries.length > 0) {
      await this.table.upsertEntity({ partitionKey, rowKey: shardRowKey(0), ...counterProps(initial) }, "Replace");
    }
    for (const d of deliveries) this.rememberSeq(jobId, d.recipientKey, d.seq);
    return deliveries.length;
  }

  async get(jobId: string, recipientKey: string): Promise<Delivery | undefined> {
    const seq = await this.seqOf(jobId, recipientKey);
    if (seq === undefined) return undefined;
    const row = await getRow(this.table, encodeKey(jobId), deliveryRowKey(seq));
    return row && fromRow(jobId, row);
  }

  /** Applies the patch; a status change moves one count between statuses atomically with the delivery. */
  async update(jobId: string, recipientKey: string, patch: DeliveryPatch): Promise<boolean> {
    const seq = await this.seqOf(jobId, recipientKey);
    return seq !== undefined && this.patchSeq(jobId, seq, patch);
  }

  /** Moves every delivery in `from` to `to`; counters move with each transaction of up to 99 deliveries. */
  async transitionAll(jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string): Promise<number> {
    if (from === to) return 0;
    const partitionKey = encodeKey(jobId);
    const filter = `${deliveryRange(partitionKey)} and status eq ${literal(from)}`;
    let moved = 0;
    let batchNo = 0;
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: 990 });
    for await (const page of pages) {
      await forEachBounded(chunk(page as Row[], 99), WRITE_CONCURRENCY, async (rows) => {
        const shard = batchNo++ % SHARDS;
        moved += await this.transitionBatch(jobId, partitionKey, rows, shard, from, to, reason);
      });
    }
    return moved;
  }

  async listByStatus(jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number): Promise<Delivery[]> {
    if (statuses.length === 0) return [];
    const partitionKey = encodeKey(jobId);
    const start = afterSeq !== undefined && afterSeq >= 0 ? ` and RowKey gt ${literal(deliveryRowKey(Math.floor(afterSeq)))}` : "";
    const anyStatus = statuses.map((s) => `status eq ${literal(s)}`).join(" or ");
    const rows = await queryRows(this.table, `${deliveryRange(partitionKey)}${start} and (${anyStatus})`, clampLimit(limit, 100_000));
    return rows.map((row) => this.remembered(fromRow(jobId, row)));
  }

  async list(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus): Promise<Page<Delivery>> {
    const max = clampLimit(limit, 100_000);
    const partitionKey = encodeKey(jobId);
    const after = decodeCursor(cursor);
    const filter = deliveryRange(partitionKey) +
      (after !== undefined ? ` and RowKey gt ${literal(after)}` : "") +
      (status !== undefined ? ` and status eq ${literal(status)}` : "");
    const rows = await queryRows(this.table, filter, max + 1);
    const items = rows.slice(0, max).map((row) => this.remembered(fromRow(jobId, row)));
    if (rows.length <= max) return { items };
    return { items, cursor: encodeCursor(rows[max - 1]!.rowKey!) };
  }

  async counts(jobId: string): Promise<DeliveryCounts> {
    const partitionKey = encodeKey(jobId);
    const shards = await queryRows(this.table,
      `PartitionKey eq ${literal(partitionKey)} and RowKey ge 'c:' and RowKey lt 'c;'`, SHARDS * 2);
    const counts: DeliveryCounts = { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 };
    for (const shard of shards) {
      for (const status of DELIVERY_STATUSES) counts[status] += numberOf(shard, status) ?? 0;
    }
    counts.total = DELIVERY_STATUSES.reduce((sum, s) => sum + counts[s], 0);
    return counts;
  }

  private async transitionBatch(
    jobId: string, partitionKey: string, rows: Row[], shard: number, from: DeliveryStatus, to: DeliveryStatus, reason?: string,
  ): Promise<number> {
    const counter = await getRow(this.table, partitionKey, shardRowKey(shard));
    const actions: TransactionAction[] = rows.map((row) => {
      const after = applyPatch(fromRow(jobId, row), { status: to, ...(reason !== undefined ? { reason } : {}) });
      return ["update", toEntity(partitionKey, after), "Replace", { etag: row.etag }];
    });
    actions.push(counterAction(partitionKey, shard, counter, { [from]: -rows.length, [to]: rows.length }));
    try {
      await this.table.submitTransaction(actions);
      return rows.length;
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 412 && status !== 409 && status !== 404) throw error;
    }
    // Someone changed a delivery or the shard meanwhile: move the rows one by one, each only if still in `from`.
    let moved = 0;
    await forEachBounded(rows, 8, async (row) => {
      const patch = { status: to, ...(reason !== undefined ? { reason } : {}) };
      if (await this.patchSeq(jobId, numberOf(row, "seq") ?? -1, patch, from)) moved++;
    });
    return moved;
  }

  /**
   * Read the delivery (and, for a status change, one counter shard) with their ETags, write them back with
   * If-Match in one transaction; on 412/409 re-read and redo. With `expected`, only a delivery still in that
   * status is changed. True when it wrote.
   */
  private async patchSeq(jobId: string, seq: number, patch: DeliveryPatch, expected?: DeliveryStatus): Promise<boolean> {
    const partitionKey = encodeKey(jobId);
    return withOptimisticRetry(async (round) => {
      const shard = (seq + round * 7) % SHARDS; // a lost race moves on to another shard
      const [row, counter] = await Promise.all([
        getRow(this.table, partitionKey, deliveryRowKey(seq)),
        patch.status !== undefined ? getRow(this.table, partitionKey, shardRowKey(shard)) : Promise.resolve(undefined),
      ]);
      if (!row) return false;
      const before = fromRow(jobId, row);
      if (expected !== undefined && before.status !== expected) return false;
      const after = applyPatch(before, patch);
      if (after.status === before.status) {
        await this.table.updateEntity(toEntity(partitionKey, after), "Replace", { etag: row.etag });
        return true;
      }
      await this.table.submitTransaction([
        ["update", toEntity(partitionKey, after), "Replace", { etag: row.etag }],
        counterAction(partitionKey, shard, counter, { [before.status]: -1, [after.status]: 1 }),
      ]);
      return true;
    });
  }

  private async seqOf(jobId: string, recipientKey: string): Promise<number | undefined> {
    const cacheKey = `${jobId}\n${recipientKey}`;
    const cached = this.seqCache.get(cacheKey);
    if (cached !== undefined) return cached;
    const row = await getRow(this.table, encodeKey(jobId), indexRowKey(recipientKey));
    const seq = row && numberOf(row, "seq");
    if (seq !== undefined) this.rememberSeq(jobId, recipientKey, seq);
    return seq;
  }

  private remembered(d: Delivery): Delivery {
    this.rememberSeq(d.jobId, d.recipientKey, d.seq);
    return d;
  }

  private rememberSeq(jobId: string, recipientKey: string, seq: number): void {
    const cacheKey = `${jobId}\n${recipientKey}`;
    if (this.seqCache.has(cacheKey)) return;
    if (this.seqCache.size >= SEQ_CACHE_LIMIT) {
      // Drop the oldest tenth (Map iterates in insertion order).
      let drop = Math.ceil(SEQ_CACHE_LIMIT / 10);
      for (const key of this.seqCache.keys()) {
        this.seqCache.delete(key);
        if (--drop === 0) break;
      }
    }
    this.seqCache.set(cacheKey, seq);
  }
}

function deliveryRange(partitionKey: string): string {
  return `PartitionKey eq ${literal(partitionKey)} and RowKey ge 'd:' and RowKey lt ${literal(DELIVERY_RANGE_END)}`;
}

/** The transaction step that adds `delta` to one counter shard (creating it when it does not exist yet). */
function counterAction(partitionKey: string, shard: number, current: Row | undefined, delta: Record<string, number>): TransactionAction {
  const values: Record<string, number> = {};
  for (const status of DELIVERY_STATUSES) values[status] = (current ? numberOf(current, status) ?? 0 : 0) + (delta[status] ?? 0);
  const entity = { partitionKey, rowKey: shardRowKey(shard), ...counterProps(values) };
  // "create" fails with 409 when a racing writer created the shard first: the caller re-reads and retries.
  return current ? ["update", entity, "Replace", { etag: current.etag }] : ["create", entity];
}

function counterProps(values: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const status of DELIVERY_STATUSES) out[status] = values[status] ?? 0;
  return out;
}

function applyPatch(d: Delivery, patch: DeliveryPatch): Delivery {
  const next: Delivery = { ...d, updatedAt: nowIso() };
  if (patch.status !== undefined) next.status = patch.status;
  if (patch.attemptsIncrement) next.attempts += patch.attemptsIncrement;
  if (patch.throttledIncrement) next.throttled += patch.throttledIncrement;
  if (patch.activityId !== undefined) next.activityId = patch.activityId;
  if (patch.reason !== undefined) next.reason = patch.reason;
  if (patch.notBefore === null) delete next.notBefore;
  else if (patch.notBefore !== undefined) next.notBefore = patch.notBefore;
  if (patch.recipient !== undefined) next.recipient = patch.recipient;
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
  return d;
}
