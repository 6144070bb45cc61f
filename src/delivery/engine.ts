/**
 * Herald's delivery engine: takes persisted jobs and sends each delivery to Teams at the rate Teams allows,
 * retrying exactly what Teams says to retry, pruning gone targets, and resuming after a crash from the store.
 *
 * Model (docs/delivery.md has the full story):
 *  - A delivery is claimed from the store in seq order (chunks), checked (opt-out, known 1:1 conversation),
 *    and queued as a task in the DispatchQueue. Tasks run only when the RateLimiter admits all their keys, at
 *    most `concurrency` at once; nothing here runs on an HTTP handler's stack.
 *  - Each Teams request is recorded in the store *before* it is made (status "sending", attempts + 1) and
 *    its result after. A crash between the two leaves "sending": on start those are sent again (the only
 *    source of duplicates, bounded by `concurrency`).
 *  - 429: wait Retry-After (or back off), slow the tenant, retry — does not use up an attempt but is bounded by
 *    `maxThrottleRetries`. 412/502/503/504/no response: back off with jitter, up to `maxAttempts` attempts.
 *    403 BotNotInConversationRoster / ConversationBlockedByUser, 404 ConversationNotFound: gone + target pruned.
 *    Anything else: failed, not retried.
 * This file holds the jobs and the dispatch loop; one delivery's checks, request and outcome are in
 * delivery-prepare.ts, delivery-attempt.ts and delivery-outcome.ts.
 */
import type { Job, JobStatus } from "../store/types";
import { runDelivery } from "./delivery-attempt";
import { observeRequest } from "./delivery-events";
import { retryPacedCall } from "./delivery-outcome";
import { prepareDelivery } from "./delivery-prepare";
import {
  createEngineContext, isoNow, RESUMED_REASON, STORE_RETRY_MS, type ActiveJob, type CallTask, type DeliveryEngineOptions, type EngineContext, type Task,
} from "./engine-context";
import { countsForLog, errorText, reportProgress, round } from "./engine-report";
import type { RateKey } from "./rate-limiter";
import { membersKeys } from "./rate-keys";

export { RESUMED_REASON, type DeliveryEngineOptions };

export class DeliveryEngine {
  private readonly ctx: EngineContext;

  private readonly active = new Map<string, ActiveJob>();
  /** Jobs that stopped claiming because the engine-wide buffer was full; resumed as it drains. */
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
    this.ctx = createEngineContext(options, { isStopping: () => this.stopping, release: (aj, count) => this.release(aj, count) });
  }

  // -------------------------------------------------------------------------------------------- lifecycle

  /** Resume every unfinished job (deliveries left "sending" by a crash are sent again). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const jobs = await this.ctx.store.jobs.listUnfinishedJobs();
    if (jobs.length) this.ctx.log.info({ jobs: jobs.length }, "resuming unfinished delivery jobs");
    for (const job of jobs) await this.activate(job);
    this.checkIdle();
  }

  /** A new job was persisted: start sending it. Never throws (errors are logged). */
  wake(jobId: string): void {
    if (!this.started || this.stopping || this.active.has(jobId) || this.activating.has(jobId)) return;
    this.waking++;
    void this.ctx.store.jobs.getJob(jobId)
      .then((job) => (job && (job.status === "queued" || job.status === "running") ? this.activate(job) : undefined))
      .catch((err) => this.ctx.log.error({ jobId, err: errorText(err) }, "could not start delivery job"))
      .finally(() => {
        this.waking--;
        this.checkIdle();
      });
  }

  /**
   * Cancel a job: its pending deliveries become "cancelled"; requests already in flight finish (their results
   * are recorded); then the job is "cancelled". Resolves once that is stored. False when the job is unknown or
   * already finished.
   */
  async cancel(jobId: string): Promise<boolean> {
    const aj = this.active.get(jobId);
    if (!aj) {
      const job = await this.ctx.store.jobs.getJob(jobId);
      if (!job || !(job.status === "queued" || job.status === "running")) return false;
      await this.ctx.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
      await this.ctx.store.jobs.transitionAll(jobId, "sending", "cancelled", "cancelled (an interrupted attempt may have been delivered)");
      await this.ctx.store.jobs.updateJob(jobId, { status: "cancelled", finishedAt: isoNow(this.ctx) });
      return true;
    }
    if (aj.cancelled) {
      await this.drained(aj);
      return true;
    }
    aj.cancelled = true;
    const removed = this.ctx.queue.removeWhere((t) => t.kind === "delivery" && t.job === aj);
    this.release(aj, removed.length);
    await this.ctx.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
    await this.drained(aj);
    // A retry or a 1:1 creation that completed during the drain left nothing pending, but be exact.
    await this.ctx.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
    await this.ctx.store.jobs.updateJob(jobId, { status: "cancelled", finishedAt: isoNow(this.ctx) });
    const counts = await this.ctx.store.jobs.counts(jobId);
    this.ctx.events.emit("onJobFinished", { job: aj.job, status: "cancelled", counts, durationMs: this.ctx.clock.now() - aj.startedAt });
    this.ctx.log.info({ jobId, ...countsForLog(counts) }, "delivery job cancelled");
    this.deactivate(aj);
    return true;
  }

  /** Stop claiming and dispatching, wait for requests in flight. Queued deliveries stay "pending" in the store. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.clearTimer();
    await new Promise<void>((resolve) => {
      const check = () => (this.inFlight === 0 && ![...this.active.values()].some((a) => a.claiming || a.finishing) && this.activating.size === 0 && this.waking === 0
        ? resolve()
        : setTimeout(check, 5));
      check();
    });
    for (const task of this.ctx.queue.removeWhere(() => true)) {
      if (task.kind === "call") task.abandon(new Error("the delivery engine stopped"));
    }
    for (const aj of this.active.values()) clearInterval(aj.progressTimer);
    this.active.clear();
    this.starved.clear();
    this.totalBuffered = 0;
    this.started = false;
    this.checkIdle();
  }

  /** Resolves when no job is active and nothing is queued or in flight (tests). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** For health endpoints. */
  stats(): { activeJobs: number; queued: number; inFlight: number; rateKeys: number } {
    return { activeJobs: this.active.size, queued: this.ctx.queue.size, inFlight: this.inFlight, rateKeys: this.ctx.limiter.size };
  }

  /**
   * Read a roster page under the engine's pacing (members windows + the tenant's global budget, which sends
   * share), retrying 429 and transient failures like deliveries do. For audience resolution.
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

  // ------------------------------------------------------------------------------------------- claiming

  private async activate(job: Job): Promise<void> {
    if (this.active.has(job.id) || this.activating.has(job.id) || this.stopping) return;
    this.activating.add(job.id);
    try {
      // Nothing of this job is in flight in this process (it was not active), so "sending" means interrupted.
      const resumed = await this.ctx.store.jobs.transitionAll(job.id, "sending", "pending", RESUMED_REASON);
      if (resumed) this.ctx.log.warn({ jobId: job.id, deliveries: resumed }, "re-sending deliveries interrupted by a restart");
      const now = this.ctx.clock.now();
      if (job.status === "queued") {
        await this.ctx.store.jobs.updateJob(job.id, { status: "running", startedAt: isoNow(this.ctx) });
        job = { ...job, status: "running" };
      }
      const aj: ActiveJob = {
        job, cursor: -1, exhausted: false, claiming: false, finishing: false, cancelled: false, buffered: 0, inFlight: 0,
        throttleRetries: job.throttleRetries, lastProgress: { at: now, sent: 0 }, startedAt: now, drainWaiters: [],
      };
      this.active.set(job.id, aj);
      this.ctx.log.info({ jobId: job.id, total: job.total, triggeredBy: job.triggeredBy }, "delivery job running");
      if (this.ctx.progressIntervalMs > 0) {
        aj.progressTimer = setInterval(() => void reportProgress(this.ctx, aj), this.ctx.progressIntervalMs);
        aj.progressTimer.unref();
      }
    } finally {
      this.activating.delete(job.id);
    }
    const aj = this.active.get(job.id);
    if (aj) void this.claim(aj);
  }

  /** Read the next chunks of pending deliveries into the queue, up to the job's and the engine's buffer. */
  private async claim(aj: ActiveJob): Promise<void> {
    if (aj.claiming || aj.finishing) return;
    aj.claiming = true;
    try {
      this.starved.delete(aj);
      while (!aj.exhausted && !aj.cancelled && !this.stopping && aj.buffered < this.ctx.jobBufferTarget) {
        if (this.totalBuffered >= this.ctx.maxBuffered) {
          this.starved.add(aj);
          break;
        }
        const batch = await this.ctx.store.jobs.listDeliveriesByStatus(aj.job.id, ["pending"], this.ctx.claimChunk, aj.cursor < 0 ? undefined : aj.cursor);
        if (batch.length < this.ctx.claimChunk) aj.exhausted = true;
        if (batch.length) aj.cursor = batch[batch.length - 1].seq;
        const tasks = await Promise.all(batch.map((d) => prepareDelivery(this.ctx, aj, d)));
        if (aj.cancelled || this.stopping) break;
        const now = this.ctx.clock.now();
        for (const task of tasks) {
          if (!task) continue;
          aj.buffered++;
          this.totalBuffered++;
          this.ctx.queue.push(task, now);
        }
        this.schedulePump();
      }
    } catch (err) {
      this.ctx.log.error({ jobId: aj.job.id, err: errorText(err) }, "could not read deliveries; retrying");
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
      const now = this.ctx.clock.now();
      const next = this.ctx.queue.next(now);
      if (next === undefined) break;
      if (typeof next === "number") {
        this.armTimer(next, now);
        break;
      }
      this.ctx.limiter.take(next.keys, now);
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
      if (task.kind === "call") await task.run();
      else await runDelivery(this.ctx, task);
    } catch (err) {
      // Only store errors get here: forget the task; the job's final check finds it still pending and re-claims.
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
        if (!aj.cancelled) {
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
      const task: CallTask = { kind: "call", tenantId, keys, notBefore: 0, run: () => call().then(resolve, reject), abandon: reject };
      this.ctx.queue.push(task, this.ctx.clock.now());
      this.schedulePump();
    });
  }

  // ---------------------------------------------------------------------------------------------- finishing

  /** `count` tasks of this job reached a final state (or left memory). */
  private release(aj: ActiveJob, count: number): void {
    aj.buffered -= count;
    this.totalBuffered -= count;
    if (this.starved.size && this.totalBuffered <= this.ctx.maxBuffered - this.ctx.claimChunk) {
      for (const other of [...this.starved]) if (other !== aj) void this.claim(other);
    }
  }

  private async maybeFinish(aj: ActiveJob): Promise<void> {
    if (aj.finishing || aj.claiming || aj.cancelled || !aj.exhausted || aj.buffered > 0 || this.stopping) return;
    if (this.active.get(aj.job.id) !== aj) return;
    aj.finishing = true;
    try {
      const counts = await this.ctx.store.jobs.counts(aj.job.id);
      if (aj.cancelled) {
        aj.finishing = false; // cancel() finishes the job
        return;
      }
      if (counts.pending + counts.sending > 0) {
        // Left in the store but not in memory (a bookkeeping write failed): pick them up again from the start.
        await this.ctx.store.jobs.transitionAll(aj.job.id, "sending", "pending", RESUMED_REASON);
        aj.cursor = -1;
        aj.exhausted = false;
        aj.finishing = false;
        setTimeout(() => void this.claim(aj), counts.sending > 0 ? STORE_RETRY_MS : 0).unref();
        return;
      }
      const status: JobStatus = counts.sent === 0 && counts.failed > 0 ? "failed" : "completed";
      await this.ctx.store.jobs.updateJob(aj.job.id, {
        status, finishedAt: isoNow(this.ctx), ...(status === "failed" ? { error: `no delivery succeeded (${counts.failed} failed)` } : {}),
      });
      const seconds = Math.max(0.001, (this.ctx.clock.now() - aj.startedAt) / 1000);
      this.ctx.events.emit("onJobFinished", { job: aj.job, status, counts, durationMs: seconds * 1000 });
      this.ctx.log.info({ jobId: aj.job.id, status, ...countsForLog(counts), throttled: aj.throttleRetries, seconds: round(seconds), msgPerSec: round(counts.sent / seconds) }, "delivery job finished");
      this.deactivate(aj);
    } catch (err) {
      this.ctx.log.error({ jobId: aj.job.id, err: errorText(err) }, "could not finish delivery job; retrying");
      aj.finishing = false;
      setTimeout(() => void this.maybeFinish(aj), STORE_RETRY_MS).unref();
    }
  }

  private deactivate(aj: ActiveJob): void {
    clearInterval(aj.progressTimer);
    this.starved.delete(aj);
    if (this.active.get(aj.job.id) === aj) this.active.delete(aj.job.id);
    this.checkIdle();
  }

  private drained(aj: ActiveJob): Promise<void> {
    if (aj.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => aj.drainWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active.size === 0 && this.activating.size === 0 && this.waking === 0 && this.inFlight === 0 && this.ctx.queue.size === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length && this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

}
