/**
 * Herald's delivery engine: takes persisted jobs and sends each delivery to Teams at the rate Teams allows,
 * retrying exactly what Teams says to retry, pruning gone targets, and resuming after a crash from the store.
 *
 * Model (docs/delivery.md has the full story):
 *  - A job's deliveries are grouped by delivery partition (the tenant's, src/cluster/partitions.ts) into slices;
 *    this process sends only the slices of partitions it owns (src/cluster/ownership.ts), found through the
 *    store's work items (work-poller.ts), so each tenant's budget is spent by one process however many run.
 *  - A delivery is claimed from the store in seq order (chunks), checked (opt-out, known 1:1 conversation),
 *    and queued as a task in the DispatchQueue. Tasks run only when the RateLimiter admits all their keys, at
 *    most `concurrency` at once, and only while this process still owns their partition.
 *  - Each Teams request is recorded in the store *before* it is made (status "sending", attempts + 1, only if
 *    still "pending") and its result after. A crash between the two leaves "sending": the partition's next owner
 *    sends those again (the only source of duplicates, bounded by the requests in flight).
 *  - 429: wait Retry-After (or back off), slow the tenant, retry — does not use up an attempt but is bounded by
 *    `maxThrottleRetries`. 412/502/503/504/no response: back off with jitter, up to `maxAttempts` attempts.
 *    403 BotNotInConversationRoster / ConversationBlockedByUser, 404 ConversationNotFound: gone + target pruned.
 *    Anything else: failed, not retried.
 * This file holds the slices and the dispatch loop; one delivery's checks, request and outcome are in
 * delivery-prepare.ts, delivery-attempt.ts and delivery-outcome.ts; finishing and cancelling jobs in job-finish.ts.
 */
import { DEFAULT_PARTITION_COUNT } from "../cluster/partitions";
import type { OwnershipListener, PartitionOwnership } from "../cluster/ownership";
import { SoleOwnership } from "../cluster/sole-ownership";
import type { Job } from "../store/types";
import { runDelivery } from "./delivery-attempt";
import { observeRequest } from "./delivery-events";
import { retryPacedCall } from "./delivery-outcome";
import { prepareChunk } from "./delivery-prepare";
import {
  createEngineContext, isoNow, RESUMED_REASON, STORE_RETRY_MS, type ActiveJob, type CallTask, type DeliveryEngineOptions, type EngineContext, type Task,
} from "./engine-context";
import { errorText, reportProgress, type JobProgress } from "./engine-report";
import { cancelJob, finishJobIfDone } from "./job-finish";
import type { RateKey } from "./rate-limiter";
import { membersKeys } from "./rate-keys";
import { RequestRate } from "./request-rate";
import { WorkPoller } from "./work-poller";

export { RESUMED_REASON, type DeliveryEngineOptions };

export class DeliveryEngine {
  private readonly ctx: EngineContext;
  readonly ownership: PartitionOwnership;
  private readonly poller: WorkPoller;
  private readonly rate = new RequestRate();
  private readonly stopTimeoutMs: number;

  /** Slices being sent here, by `${jobId}#${partition}`. */
  private readonly active = new Map<string, ActiveJob>();
  private readonly progress = new Map<string, JobProgress>();
  /** Slices that stopped claiming because the engine-wide buffer was full; resumed as it drains. */
  private readonly starved = new Set<ActiveJob>();
  private readonly activating = new Set<string>();
  /** wake() calls still reading their job. */
  private waking = 0;
  private started = false;
  private stopping = false;
  private inFlight = 0;
  private totalBuffered = 0;
  private pumpScheduled = false;
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private idleWaiters: Array<() => void> = [];

  constructor(options: DeliveryEngineOptions) {
    const observers = [...(options.observers ?? []), { onRequest: () => this.rate.record(this.ctx.clock.now()) }];
    this.ctx = createEngineContext({ ...options, observers }, { isStopping: () => this.stopping, release: (aj, count) => this.release(aj, count) });
    this.ownership = options.ownership ?? new SoleOwnership("local", DEFAULT_PARTITION_COUNT);
    this.stopTimeoutMs = options.stopTimeoutMs ?? 8000;
    this.poller = new WorkPoller({
      store: this.ctx.store, ownership: this.ownership, log: this.ctx.log, pollMs: options.workPollMs ?? 500, janitorMs: options.janitorMs ?? 30_000,
      handlers: options.workHandlers ?? {},
      activeSlices: () => [...this.active.values()],
      activate: (jobId, partition) => this.activateSlice(jobId, partition),
      closedElsewhere: (aj) => this.closedElsewhere(aj),
      finishJob: (jobId) => this.finishJob(jobId),
    });
  }

  // -------------------------------------------------------------------------------------------- lifecycle

  /** Join the cluster (or take the store's lock), then resume the unfinished work of every owned partition. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    await this.ownership.start(this.listener());
    await this.poller.start();
    this.checkIdle();
  }

  /** A new job was persisted: start sending the slices this process owns. Never throws (errors are logged). */
  wake(jobId: string): void {
    if (!this.started || this.stopping) return;
    this.waking++;
    void this.ctx.store.jobs.getJob(jobId)
      .then(async (job) => {
        if (!job || !(job.status === "queued" || job.status === "running")) return;
        for (const slice of job.slices) if (this.ownership.owns(slice.partition)) await this.activateSlice(job.id, slice.partition, job);
        if (job.slices.length === 0) await this.finishJob(job.id);
      })
      .catch((err) => this.ctx.log.error({ jobId, err: errorText(err) }, "could not start delivery job"))
      .finally(() => {
        this.waking--;
        this.checkIdle();
      });
  }

  /** Work for an owned partition was stored (a roster to read): look now instead of at the next poll. */
  poke(): void {
    if (this.started && !this.stopping) this.poller.poke();
  }

  /**
   * Cancel a job, from any instance: it becomes "cancelled", its pending deliveries "cancelled"; requests in
   * flight (here or on the partitions' owners) finish and keep their results. False when the job is unknown
   * or already finished.
   */
  async cancel(jobId: string): Promise<boolean> {
    return cancelJob(this.ctx, jobId, {
      local: () => [...this.active.values()].filter((aj) => aj.job.id === jobId),
      stopLocal: (aj) => {
        aj.cancelled = true;
        this.dropQueued(aj);
        return this.drained(aj).then(() => this.deactivate(aj));
      },
    });
  }

  /**
   * Graceful stop: claim nothing more, wait (up to stopTimeoutMs) for the requests in flight and record their
   * results, then hand every partition over. Queued deliveries stay "pending" for the next owner.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.clearTimer();
    await this.poller.stop();
    for (const aj of this.active.values()) this.dropQueued(aj);
    for (const task of this.ctx.queue.removeWhere(() => true)) {
      if (task.kind === "call") task.abandon(new Error("the delivery engine stopped"));
    }
    const deadline = Date.now() + this.stopTimeoutMs;
    await new Promise<void>((resolve) => {
      const check = () => {
        const busy = this.inFlight > 0 || [...this.active.values()].some((a) => a.claiming || a.finishing) || this.activating.size > 0 || this.waking > 0;
        if (!busy) return resolve();
        if (Date.now() >= deadline) {
          this.ctx.log.warn({ inFlight: this.inFlight }, "stopping with requests still in flight; the next owner sends them again");
          return resolve();
        }
        setTimeout(check, 5);
      };
      check();
    });
    for (const p of this.progress.values()) clearInterval(p.timer);
    this.progress.clear();
    this.active.clear();
    this.starved.clear();
    this.totalBuffered = 0;
    await this.ownership.stop();
    this.started = false;
    this.checkIdle();
  }

  /** Resolves when no slice is active and nothing is queued or in flight (tests). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get isStarted(): boolean {
    return this.started && !this.stopping;
  }

  /** For health endpoints and the cluster view. */
  stats(): { activeJobs: number; activeSlices: number; queued: number; inFlight: number; rateKeys: number; requestsPerSec: number } {
    return {
      activeJobs: new Set([...this.active.values()].map((a) => a.job.id)).size, activeSlices: this.active.size, queued: this.ctx.queue.size,
      inFlight: this.inFlight, rateKeys: this.ctx.limiter.size, requestsPerSec: this.rate.perSecond(this.ctx.clock.now()),
    };
  }

  /**
   * Read a roster page under the engine's pacing (members windows + the tenant's global budget, which sends
   * share), retrying 429 and transient failures like deliveries do. Call it on the tenant's partition owner
   * (roster syncs are work items for that reason).
   */
  async getPagedMembers(serviceUrl: string, tenantId: string, conversationId: string, pageSize: number, continuationToken?: string) {
    const keys = membersKeys(tenantId, conversationId);
    return retryPacedCall(this.ctx, tenantId, keys,
      () => this.paced(tenantId, keys, () => observeRequest(this.ctx.events, { operation: "getMembers", tenantId, attempt: 1 },
        () => this.ctx.connector.getPagedMembers(serviceUrl, tenantId, conversationId, pageSize, continuationToken))));
  }

  /** Read one member (a person's UPN, e-mail, AAD id) under the same pacing and retries as a roster page. */
  async getMember(serviceUrl: string, tenantId: string, conversationId: string, userId: string) {
    const keys = membersKeys(tenantId, conversationId);
    return retryPacedCall(this.ctx, tenantId, keys,
      () => this.paced(tenantId, keys, () => observeRequest(this.ctx.events, { operation: "getMembers", tenantId, attempt: 1 },
        () => this.ctx.connector.getMember(serviceUrl, tenantId, conversationId, userId))));
  }

  // ------------------------------------------------------------------------------------------- ownership

  private listener(): OwnershipListener {
    return {
      acquired: () => this.poller.poke(),
      releasing: async (partition) => {
        const slices = [...this.active.values()].filter((aj) => aj.partition === partition);
        for (const aj of slices) {
          aj.stopped = true;
          this.dropQueued(aj);
        }
        this.abandonCalls(partition);
        await Promise.all(slices.map((aj) => this.drained(aj)));
        for (const aj of slices) this.deactivate(aj);
      },
      lost: (partition) => {
        for (const aj of [...this.active.values()].filter((a) => a.partition === partition)) {
          aj.stopped = true;
          this.dropQueued(aj);
          this.deactivate(aj);
        }
        this.abandonCalls(partition);
      },
    };
  }

  /** Paced calls (roster reads) of a partition we no longer own: their work item stays for the next owner. */
  private abandonCalls(partition: number): void {
    for (const task of this.ctx.queue.removeWhere((t) => t.kind === "call" && t.partition === partition)) {
      if (task.kind === "call") task.abandon(new Error(`partition ${partition} was handed over`));
    }
  }

  // ------------------------------------------------------------------------------------------- claiming

  private async activateSlice(jobId: string, partition: number, known?: Job): Promise<void> {
    const key = `${jobId}#${partition}`;
    if (this.active.has(key) || this.activating.has(key) || this.stopping || !this.ownership.owns(partition)) return;
    this.activating.add(key);
    try {
      let job = known ?? (await this.ctx.store.jobs.getJob(jobId));
      if (!job) return; // still being written (its work item came first): the next poll looks again
      const slice = job.slices.find((s) => s.partition === partition);
      if (!slice || !(job.status === "queued" || job.status === "running")) {
        await this.ctx.store.work.remove(partition, "job", jobId);
        if (job.status === "queued" || job.status === "running") await this.finishJob(jobId);
        return;
      }
      const range = { from: slice.firstSeq, to: slice.firstSeq + slice.count };
      // We own the partition and nothing of this slice is in flight here, so "sending" means the previous owner
      // (or this process, before a crash) was interrupted mid-request.
      const resumed = await this.ctx.store.jobs.transitionAll(job.id, "sending", "pending", RESUMED_REASON, range);
      if (resumed) this.ctx.log.warn({ jobId, partition, deliveries: resumed }, "re-sending deliveries interrupted by a restart or a lost owner");
      if (job.status === "queued") {
        await this.ctx.store.jobs.updateJob(job.id, { status: "running", startedAt: isoNow(this.ctx) }, ["queued"]);
        job = { ...job, status: "running" };
      }
      const aj: ActiveJob = {
        job, partition, range, key, stopped: false, cursor: range.from - 1, exhausted: false, claiming: false, finishing: false, cancelled: false,
        buffered: 0, inFlight: 0, throttleRetries: job.throttleRetries, startedAt: this.ctx.clock.now(), drainWaiters: [],
      };
      this.active.set(key, aj);
      this.ctx.log.info({ jobId, partition, deliveries: slice.count, total: job.total, triggeredBy: job.triggeredBy }, "delivery job running");
      this.trackProgress(jobId);
    } finally {
      this.activating.delete(key);
    }
    const aj = this.active.get(key);
    if (aj) void this.claim(aj);
  }

  /** Read the next chunks of pending deliveries into the queue, up to the slice's and the engine's buffer. */
  private async claim(aj: ActiveJob): Promise<void> {
    if (aj.claiming || aj.finishing) return;
    aj.claiming = true;
    try {
      this.starved.delete(aj);
      while (!aj.exhausted && !aj.cancelled && !aj.stopped && !this.stopping && aj.buffered < this.ctx.jobBufferTarget) {
        if (this.totalBuffered >= this.ctx.maxBuffered) {
          this.starved.add(aj);
          break;
        }
        if (!this.ownership.owns(aj.partition)) break; // fenced: the lease lapsed; `lost` cleans up
        const batch = await this.ctx.store.jobs.listDeliveriesByStatus(aj.job.id, ["pending"], this.ctx.claimChunk, aj.cursor, aj.range.to);
        if (batch.length < this.ctx.claimChunk) aj.exhausted = true;
        if (batch.length) aj.cursor = batch[batch.length - 1].seq;
        const tasks = await prepareChunk(this.ctx, aj, batch);
        if (aj.cancelled || aj.stopped || this.stopping) break;
        const now = this.ctx.dispatch.now();
        for (const task of tasks) {
          if (!task) continue;
          aj.buffered++;
          this.totalBuffered++;
          this.ctx.queue.push(task, now);
        }
        this.schedulePump();
      }
    } catch (err) {
      this.ctx.log.error({ jobId: aj.job.id, partition: aj.partition, err: errorText(err) }, "could not read deliveries; retrying");
      setTimeout(() => void this.claim(aj), STORE_RETRY_MS).unref();
    } finally {
      aj.claiming = false;
    }
    void this.maybeFinish(aj);
  }

  // ------------------------------------------------------------------------------------------ dispatching

  private schedulePump(): void {
    if (this.pumpScheduled || this.stopping) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.stopping) return;
    let dispatched = 0;
    while (this.inFlight < this.ctx.concurrency) {
      const now = this.ctx.dispatch.now();
      const next = this.ctx.queue.next(now);
      if (next === undefined) break;
      if (typeof next === "number") {
        this.armTimer(next, now);
        break;
      }
      if (next.kind === "delivery" && (next.job.stopped || !this.ownership.owns(next.partition))) {
        // Fenced: never spend a budget we no longer own. The delivery stays pending for the next owner.
        this.release(next.job, 1);
        void this.maybeFinish(next.job);
        continue;
      }
      this.ctx.limiter.take(next.keys, now);
      next.plannedAt = now;
      this.inFlight++;
      if (next.kind === "delivery") next.job.inFlight++;
      void this.run(next);
      // Yield to the event loop now and then so a big backlog never starves HTTP handlers.
      if (++dispatched >= 128) {
        this.schedulePump();
        break;
      }
    }
  }

  private armTimer(at: number, now: number): void {
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.schedulePump();
    }, Math.max(0, Math.ceil(at - now)));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private async run(task: Task): Promise<void> {
    try {
      if (task.kind === "call") {
        await this.ctx.dispatch.waitFor(task.plannedAt);
        await task.run();
      } else {
        await runDelivery(this.ctx, task);
      }
    } catch (err) {
      // Only store errors get here: forget the task; the slice's final check finds it still pending and re-claims.
      if (task.kind === "delivery") {
        this.ctx.log.error({ jobId: task.job.job.id, recipientKey: task.delivery.recipientKey, err: errorText(err) }, "delivery bookkeeping failed");
        this.release(task.job, 1);
      } else {
        this.ctx.log.error({ err: errorText(err) }, "paced call failed");
      }
    } finally {
      this.inFlight--;
      if (task.kind === "delivery") {
        const aj = task.job;
        aj.inFlight--;
        if (aj.inFlight === 0 && aj.drainWaiters.length) for (const w of aj.drainWaiters.splice(0)) w();
        if (!aj.cancelled && !aj.stopped) {
          if (!aj.exhausted && !aj.claiming) void this.claim(aj);
          else void this.maybeFinish(aj);
        }
      }
      this.schedulePump();
      this.checkIdle();
    }
  }

  /** Run `call` when the tenant's budget and `keys` admit it, inside the concurrency limit. */
  private paced<T>(tenantId: string, keys: RateKey[], call: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new Error("the delivery engine is stopping"));
    return new Promise<T>((resolve, reject) => {
      const task: CallTask = {
        kind: "call", plannedAt: 0, tenantId, partition: this.poller.partitionOf(tenantId), keys, notBefore: 0, run: () => call().then(resolve, reject), abandon: reject,
      };
      this.ctx.queue.push(task, this.ctx.dispatch.now());
      this.schedulePump();
    });
  }

  // ---------------------------------------------------------------------------------------------- finishing

  /** `count` tasks of this slice reached a final state (or left memory). */
  private release(aj: ActiveJob, count: number): void {
    aj.buffered -= count;
    this.totalBuffered -= count;
    if (this.starved.size && this.totalBuffered <= this.ctx.maxBuffered - this.ctx.claimChunk) {
      for (const other of [...this.starved]) if (other !== aj) void this.claim(other);
    }
  }

  private async maybeFinish(aj: ActiveJob): Promise<void> {
    if (aj.finishing || aj.claiming || aj.cancelled || aj.stopped || !aj.exhausted || aj.buffered > 0 || this.stopping) return;
    if (this.active.get(aj.key) !== aj) return;
    aj.finishing = true;
    try {
      const left = await this.ctx.store.jobs.listDeliveriesByStatus(aj.job.id, ["pending", "sending"], 1, aj.range.from - 1, aj.range.to);
      if (aj.cancelled || aj.stopped) {
        aj.finishing = false; // cancel() or the handover cleans up
        return;
      }
      if (left.length > 0) {
        // Left in the store but not in memory (a bookkeeping write failed): pick them up again from the start.
        await this.ctx.store.jobs.transitionAll(aj.job.id, "sending", "pending", RESUMED_REASON, aj.range);
        aj.cursor = aj.range.from - 1;
        aj.exhausted = false;
        aj.finishing = false;
        setTimeout(() => void this.claim(aj), left[0]!.status === "sending" ? STORE_RETRY_MS : 0).unref();
        return;
      }
      await this.ctx.store.work.remove(aj.partition, "job", aj.job.id);
      this.ctx.log.info({ jobId: aj.job.id, partition: aj.partition, seconds: Math.round((this.ctx.clock.now() - aj.startedAt) / 100) / 10 }, "delivery slice finished");
      await this.finishJob(aj.job.id);
      this.deactivate(aj);
    } catch (err) {
      this.ctx.log.error({ jobId: aj.job.id, err: errorText(err) }, "could not finish delivery slice; retrying");
      aj.finishing = false;
      setTimeout(() => void this.maybeFinish(aj), STORE_RETRY_MS).unref();
    }
  }

  private finishJob(jobId: string): Promise<void> {
    return finishJobIfDone(this.ctx, jobId).then(() => undefined);
  }

  /** The slice's work item disappeared on another instance's initiative (a cancel): stop it if the job is over. */
  private async closedElsewhere(aj: ActiveJob): Promise<void> {
    const job = await this.ctx.store.jobs.getJob(aj.job.id);
    if (job && (job.status === "queued" || job.status === "running")) return;
    aj.cancelled = true;
    this.dropQueued(aj);
    await this.drained(aj);
    this.deactivate(aj);
  }

  private dropQueued(aj: ActiveJob): void {
    const removed = this.ctx.queue.removeWhere((t) => t.kind === "delivery" && t.job === aj);
    this.release(aj, removed.length);
  }

  private trackProgress(jobId: string): void {
    if (this.ctx.progressIntervalMs <= 0 || this.progress.has(jobId)) return;
    const progress: JobProgress = {
      jobId, last: { at: this.ctx.clock.now(), sent: 0 },
      timer: setInterval(() => void reportProgress(this.ctx, progress), this.ctx.progressIntervalMs),
    };
    progress.timer.unref();
    this.progress.set(jobId, progress);
  }

  private deactivate(aj: ActiveJob): void {
    this.starved.delete(aj);
    if (this.active.get(aj.key) === aj) this.active.delete(aj.key);
    const jobId = aj.job.id;
    if (![...this.active.values()].some((a) => a.job.id === jobId)) {
      const progress = this.progress.get(jobId);
      if (progress) clearInterval(progress.timer);
      this.progress.delete(jobId);
    }
    this.checkIdle();
  }

  private drained(aj: ActiveJob): Promise<void> {
    if (aj.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => aj.drainWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active.size === 0 && this.activating.size === 0 && this.waking === 0 && this.inFlight === 0 && this.ctx.queue.size === 0 && this.poller.isIdle();
  }

  private checkIdle(): void {
    if (this.idleWaiters.length && this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }
}
