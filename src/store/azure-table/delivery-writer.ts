/**
 * Group commit for delivery updates in Azure Table Storage. A status change must move a counter in the same
 * transaction as the delivery; done one update at a time, every in-flight delivery of a partition races for the
 * same counter row (412 → re-read → retry), and each update costs a read of the delivery and of the counter
 * before its write. Here, per delivery partition, one writer at a time commits everything queued for that
 * partition in a single entity group transaction: up to 99 deliveries (If-Match on the ETag this process last
 * saw for each) plus one counter shard with the sum of their moves. While one commit is on the wire the next
 * batch fills, so a busy partition costs about one round trip per batch instead of three per delivery.
 *
 * The ETags come from a cache of the rows this process read (claims, listings) or wrote. A commit that fails
 * because something else changed a row or the shard (a cancel on another instance, a second owner for a moment)
 * falls back to `slowPath` for each of its updates: read, check the expected status, write with If-Match.
 * Each process writes its own counter shard of a partition, so two processes rarely contend for one.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { matchesExpectation } from "../delivery-match";
import type { Delivery, DeliveryExpectation, DeliveryPatch } from "../types";
import { stableHash } from "./keys";
import { isConflict, isNotFound, isPreconditionFailed, numberOf, type Row } from "./table-helpers";

/** Up to 100 operations per transaction: 99 deliveries and the counter shard. */
const MAX_DELIVERIES_PER_COMMIT = 99;
const ROW_CACHE_LIMIT = 50_000;

export interface CachedDelivery {
  delivery: Delivery;
  etag: string;
}

interface QueuedUpdate {
  jobId: string;
  seq: number;
  patch: DeliveryPatch;
  expected?: DeliveryExpectation;
  resolve: (changed: boolean) => void;
  reject: (error: unknown) => void;
}

export interface DeliveryWriterDeps {
  table: TableClient;
  shards: number;
  shardRowKey(shard: number): string;
  deliveryRowKey(seq: number): string;
  /** The entity for a delivery. */
  toEntity(partitionKey: string, delivery: Delivery): Record<string, unknown> & { partitionKey: string; rowKey: string };
  fromRow(jobId: string, row: Row): Delivery;
  applyPatch(delivery: Delivery, patch: DeliveryPatch): Delivery;
  /** The counter shard step adding `delta` (create when `current` is absent). */
  counterAction(partitionKey: string, shard: number, current: Row | undefined, delta: Record<string, number>): TransactionAction;
  /** Adds the counter moves of one delivery changing from `before` to `after` to `delta`. */
  counterDelta(delta: Record<string, number>, before: Delivery, after: Delivery): void;
  /** One update the careful way (read, check, If-Match write, retry on conflict). */
  slowPath(jobId: string, partitionKey: string, seq: number, patch: DeliveryPatch, expected?: DeliveryExpectation): Promise<boolean>;
}

export class DeliveryWriter {
  private readonly rows = new Map<string, CachedDelivery>();
  private readonly shardRows = new Map<string, Row>();
  private readonly queues = new Map<string, QueuedUpdate[]>();
  private readonly draining = new Set<string>();
  /** This process's counter shard offset (random, so two processes rarely pick the same shard of a partition). */
  private readonly shardBase = Math.floor(Math.random() * 1_000_000);

  constructor(private readonly deps: DeliveryWriterDeps) {}

  /** What this process last read or wrote for a delivery (its ETag makes the next write a blind If-Match). */
  remember(jobId: string, row: Row): void {
    if (!row.etag) return;
    const delivery = this.deps.fromRow(jobId, row);
    this.cacheRow(jobId, delivery, row.etag);
  }

  forget(jobId: string, seq: number): void {
    this.rows.delete(rowKeyOf(jobId, seq));
  }

  forgetJob(jobId: string): void {
    const prefix = `${jobId}\n`;
    for (const key of this.rows.keys()) if (key.startsWith(prefix)) this.rows.delete(key);
  }

  update(jobId: string, partitionKey: string, seq: number, patch: DeliveryPatch, expected?: DeliveryExpectation): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(partitionKey);
      if (!queue) this.queues.set(partitionKey, (queue = []));
      queue.push({ jobId, seq, patch, expected, resolve, reject });
      if (!this.draining.has(partitionKey)) void this.drain(partitionKey);
    });
  }

  private async drain(partitionKey: string): Promise<void> {
    this.draining.add(partitionKey);
    try {
      for (;;) {
        const queue = this.queues.get(partitionKey);
        if (!queue || queue.length === 0) {
          this.queues.delete(partitionKey);
          return;
        }
        // One update per delivery per commit (a transaction may not name an entity twice); later ones wait.
        const batch: QueuedUpdate[] = [];
        const rest: QueuedUpdate[] = [];
        const seen = new Set<number>();
        for (const update of queue) {
          if (batch.length < MAX_DELIVERIES_PER_COMMIT && !seen.has(update.seq)) {
            seen.add(update.seq);
            batch.push(update);
          } else {
            rest.push(update);
          }
        }
        this.queues.set(partitionKey, rest);
        await this.commit(partitionKey, batch);
      }
    } finally {
      this.draining.delete(partitionKey);
    }
  }

  private async commit(partitionKey: string, batch: QueuedUpdate[]): Promise<void> {
    const { table } = this.deps;
    const deps = this.deps;
    try {
      // Rows this process has not seen yet are read first (rare: the engine writes what it claimed).
      await Promise.all(batch.filter((u) => !this.rows.has(rowKeyOf(u.jobId, u.seq))).map(async (u) => {
        try {
          const row = (await table.getEntity<Record<string, unknown>>(partitionKey, deps.deliveryRowKey(u.seq))) as Row;
          this.remember(u.jobId, row);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }));
      const writes: Array<{ update: QueuedUpdate; after: Delivery; etag: string }> = [];
      const delta: Record<string, number> = {};
      for (const update of batch) {
        const cached = this.rows.get(rowKeyOf(update.jobId, update.seq));
        if (!cached) {
          // Not read above (absent), or forgotten since (forgetJob while the reads were on the wire): only the
          // store can say whether the delivery exists. Answering "no such delivery" here would leave a sent
          // delivery "sending", to be sent again.
          writes.push({ update, after: undefined as never, etag: "" });
          continue;
        }
        if (!matchesExpectation(cached.delivery, update.expected)) {
          // Our copy may be stale; only the store can say no for sure.
          writes.push({ update, after: cached.delivery, etag: "" });
          continue;
        }
        const after = deps.applyPatch(cached.delivery, update.patch);
        deps.counterDelta(delta, cached.delivery, after);
        writes.push({ update, after, etag: cached.etag });
      }
      const blind = writes.filter((w) => w.etag !== "");
      const doubtful = writes.filter((w) => w.etag === "");
      if (blind.length) await this.submit(partitionKey, blind, delta);
      for (const w of doubtful) await this.careful(partitionKey, w.update);
    } catch (error) {
      for (const update of batch) update.reject(error);
    }
  }

  private async submit(partitionKey: string, writes: Array<{ update: QueuedUpdate; after: Delivery; etag: string }>, delta: Record<string, number>): Promise<void> {
    const { table } = this.deps;
    const deps = this.deps;
    const moves = Object.values(delta).some((n) => n !== 0);
    const shard = (this.shardBase + stableHash(partitionKey)) % deps.shards;
    const shardKey = `${partitionKey}\n${shard}`;
    const actions: TransactionAction[] = writes.map((w) => ["update", deps.toEntity(partitionKey, w.after), "Replace", { etag: w.etag }]);
    try {
      if (moves) {
        let counter = this.shardRows.get(shardKey);
        if (!counter) {
          try {
            counter = (await table.getEntity<Record<string, unknown>>(partitionKey, deps.shardRowKey(shard))) as Row;
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
        }
        actions.push(deps.counterAction(partitionKey, shard, counter, delta));
        const response = await table.submitTransaction(actions);
        this.afterCommit(writes, response.subResponses);
        const written = response.getResponseForEntity(deps.shardRowKey(shard));
        const values: Record<string, unknown> = {};
        for (const [status, n] of Object.entries(delta)) values[status] = (counter ? numberOf(counter, status) ?? 0 : 0) + n;
        if (written?.etag) this.shardRows.set(shardKey, { ...(counter ?? {}), ...values, partitionKey, rowKey: deps.shardRowKey(shard), etag: written.etag } as Row);
        else this.shardRows.delete(shardKey);
      } else if (actions.length === 1) {
        const w = writes[0]!;
        const response = await table.updateEntity(deps.toEntity(partitionKey, w.after), "Replace", { etag: w.etag });
        this.afterCommit(writes, [{ rowKey: deps.deliveryRowKey(w.update.seq), etag: response.etag }]);
      } else {
        const response = await table.submitTransaction(actions);
        this.afterCommit(writes, response.subResponses);
      }
      for (const w of writes) w.update.resolve(true);
    } catch (error) {
      if (!isPreconditionFailed(error) && !isConflict(error) && !isNotFound(error)) throw error;
      // Something changed a delivery or the shard under us: redo each update carefully.
      this.shardRows.delete(shardKey);
      for (const w of writes) this.forget(w.update.jobId, w.update.seq);
      await Promise.all(writes.map((w) => this.careful(partitionKey, w.update)));
    }
  }

  private afterCommit(writes: Array<{ update: QueuedUpdate; after: Delivery }>, responses: Array<{ rowKey?: string; etag?: string }>): void {
    const etags = new Map(responses.filter((r) => r.rowKey && r.etag).map((r) => [r.rowKey!, r.etag!]));
    for (const w of writes) {
      const etag = etags.get(this.deps.deliveryRowKey(w.update.seq));
      if (etag) this.cacheRow(w.update.jobId, w.after, etag);
      else this.forget(w.update.jobId, w.update.seq);
    }
  }

  private async careful(partitionKey: string, update: QueuedUpdate): Promise<void> {
    this.forget(update.jobId, update.seq);
    try {
      update.resolve(await this.deps.slowPath(update.jobId, partitionKey, update.seq, update.patch, update.expected));
    } catch (error) {
      update.reject(error);
    }
  }

  private cacheRow(jobId: string, delivery: Delivery, etag: string): void {
    const key = rowKeyOf(jobId, delivery.seq);
    this.rows.delete(key);
    if (this.rows.size >= ROW_CACHE_LIMIT) {
      // Oldest first (Map keeps insertion order; a row is re-inserted on every write).
      let drop = Math.ceil(ROW_CACHE_LIMIT / 10);
      for (const k of this.rows.keys()) {
        this.rows.delete(k);
        if (--drop === 0) break;
      }
    }
    this.rows.set(key, { delivery, etag });
  }
}

const rowKeyOf = (jobId: string, seq: number) => `${jobId}\n${seq}`;
