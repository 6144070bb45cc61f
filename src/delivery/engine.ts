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
 */
import type { Activity } from "botbuilder";
import type { Logger } from "../logger";
import { targetKey, type Delivery, type DeliveryCounts, type DeliveryRecipient, type HeraldStore, type Job, type JobStatus } from "../store/types";
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { DispatchQueue, type Schedulable } from "./dispatch-queue";
import { RateLimiter, type RateKey } from "./rate-limiter";
import { createKeys, membersKeys, sendKeys, teamsPolicies, tenantKey, type PacingWindows } from "./rate-keys";
import type { TeamsConnector } from "./teams-connector";
import { classifyTeamsError, describeFailure, type TeamsFailure } from "./teams-errors";

export interface DeliveryEngineOptions {
  store: HeraldStore;
  connector: TeamsConnector;
  render: (job: Job, recipient: DeliveryRecipient) => Partial<Activity>;
  logger: Logger;
  clock?: { now(): number };
  /** Global Bot Connector requests per second per tenant. Default 50. */
  perTenantPerSecond?: number;
  /**
   * Teams requests in flight at once, all tenants. Default 64: at 200 ms latency that sustains 320 requests/s
   * (six tenants at their full 50/s); raise it when many tenants are busy at once.
   */
  concurrency?: number;
  /** Attempts per delivery for transient failures (429s not counted). Default 6. */
  maxAttempts?: number;
  /** 429 answers tolerated per delivery before it fails. Default 10. */
  maxThrottleRetries?: number;
  backoff?: Partial<BackoffOptions>;
  /** Multiplies every Teams window, the tenant window and the budget recovery (tests: match the emulator's). Default 1. */
  timeScale?: number;
  /** Override thread/create/members windows (already scaled). */
  windows?: Partial<PacingWindows>;
  /** Progress line period while a job runs. Default 5000 ms. */
  progressIntervalMs?: number;
  /** Deliveries read from the store per claim. Default 256. */
  claimChunk?: number;
  /** Deliveries of one job held in memory (queued or in flight). Default 2000. */
  jobBufferTarget?: number;
  /** Deliveries held in memory over all jobs. Default 20000. */
  maxBuffered?: number;
  /** For jitter; [0, 1). */
  random?: () => number;
}

/** Set on deliveries that were "sending" when the previous process stopped. */
export const RESUMED_REASON = "an attempt was in flight when Herald stopped; sending again (the recipient may get it twice)";

type Phase = "create" | "send" | "thread";

interface DeliveryTask extends Schedulable {
  kind: "delivery";
  job: ActiveJob;
  delivery: Delivery;
  phase: Phase;
  /** The recipient changed in memory (1:1 conversation found) and must be written with the next update. */
  recipientDirty: boolean;
  /** Attempts spent creating the 1:1 in this process (not send attempts, for the "sent on attempt n" note). */
  createAttempts: number;
}

interface CallTask extends Schedulable {
  kind: "call";
  run: () => Promise<void>;
  /** Settles the caller's promise when the task is dropped without running (stop). */
  abandon: (error: Error) => void;
}

type Task = DeliveryTask | CallTask;

interface ActiveJob {
  job: Job;
  /** Highest seq claimed so far. */
  cursor: number;
  exhausted: boolean;
  claiming: boolean;
  finishing: boolean;
  cancelled: boolean;
  /** Tasks of this job queued or in flight. */
  buffered: number;
  inFlight: number;
  throttleRetries: number;
  progressTimer?: NodeJS.Timeout;
  lastProgress: { at: number; sent: number };
  startedAt: number;
  drainWaiters: Array<() => void>;
}

const STORE_RETRY_MS = 1000;

export class DeliveryEngine {
  private readonly store: HeraldStore;
  private readonly connector: TeamsConnector;
  private readonly render: DeliveryEngineOptions["render"];
  private readonly log: Logger;
  private readonly clock: { now(): number };
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly maxThrottleRetries: number;
  private readonly backoff: BackoffOptions;
  private readonly progressIntervalMs: number;
  private readonly claimChunk: number;
  private readonly jobBufferTarget: number;
  private readonly maxBuffered: number;
  private readonly random: () => number;
  private readonly limiter: RateLimiter;
  private readonly queue: DispatchQueue<Task>;

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
    this.store = options.store;
    this.connector = options.connector;
    this.render = options.render;
    this.log = options.logger;
    this.clock = options.clock ?? { now: () => Date.now() };
    this.concurrency = Math.max(1, options.concurrency ?? 64);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.maxThrottleRetries = Math.max(0, options.maxThrottleRetries ?? 10);
    const timeScale = options.timeScale ?? 1;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.progressIntervalMs = options.progressIntervalMs ?? 5000;
    this.claimChunk = Math.max(1, options.claimChunk ?? 256);
    this.jobBufferTarget = Math.max(1, options.jobBufferTarget ?? 2000);
    this.maxBuffered = Math.max(this.claimChunk, options.maxBuffered ?? 20_000);
    this.random = options.random ?? Math.random;
    this.limiter = new RateLimiter({
      policies: teamsPolicies(options.perTenantPerSecond ?? 50, timeScale, options.windows),
      aimd: { recoverStepMs: 1000 * timeScale },
      sweepEveryMs: 60_000 * timeScale,
    });
    this.queue = new DispatchQueue<Task>(this.limiter);
  }

  // -------------------------------------------------------------------------------------------- lifecycle

  /** Resume every unfinished job (deliveries left "sending" by a crash are sent again). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const jobs = await this.store.jobs.listUnfinishedJobs();
    if (jobs.length) this.log.info({ jobs: jobs.length }, "resuming unfinished delivery jobs");
    for (const job of jobs) await this.activate(job);
    this.checkIdle();
  }

  /** A new job was persisted: start sending it. Never throws (errors are logged). */
  wake(jobId: string): void {
    if (!this.started || this.stopping || this.active.has(jobId) || this.activating.has(jobId)) return;
    this.waking++;
    void this.store.jobs.getJob(jobId)
      .then((job) => (job && (job.status === "queued" || job.status === "running") ? this.activate(job) : undefined))
      .catch((err) => this.log.error({ jobId, err: errorText(err) }, "could not start delivery job"))
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
      const job = await this.store.jobs.getJob(jobId);
      if (!job || !(job.status === "queued" || job.status === "running")) return false;
      await this.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
      await this.store.jobs.transitionAll(jobId, "sending", "cancelled", "cancelled (an interrupted attempt may have been delivered)");
      await this.store.jobs.updateJob(jobId, { status: "cancelled", finishedAt: this.iso() });
      return true;
    }
    if (aj.cancelled) {
      await this.drained(aj);
      return true;
    }
    aj.cancelled = true;
    const removed = this.queue.removeWhere((t) => t.kind === "delivery" && t.job === aj);
    this.release(aj, removed.length);
    await this.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
    await this.drained(aj);
    // A retry or a 1:1 creation that completed during the drain left nothing pending, but be exact.
    await this.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
    await this.store.jobs.updateJob(jobId, { status: "cancelled", finishedAt: this.iso() });
    const counts = await this.store.jobs.counts(jobId);
    this.log.info({ jobId, ...countsForLog(counts) }, "delivery job cancelled");
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
    for (const task of this.queue.removeWhere(() => true)) {
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
    return { activeJobs: this.active.size, queued: this.queue.size, inFlight: this.inFlight, rateKeys: this.limiter.size };
  }

  /**
   * Read a roster page under the engine's pacing (members windows + the tenant's global budget, which sends
   * share), retrying 429 and transient failures like deliveries do. For audience resolution.
   */
  async getPagedMembers(serviceUrl: string, tenantId: string, conversationId: string, pageSize: number, continuationToken?: string) {
    const keys = membersKeys(tenantId, conversationId);
    for (let attempt = 1, throttled = 0; ; attempt++) {
      try {
        return await this.paced(tenantId, keys, () => this.connector.getPagedMembers(serviceUrl, tenantId, conversationId, pageSize, continuationToken));
      } catch (err) {
        const failure = classifyTeamsError(err);
        const now = this.clock.now();
        if (failure.outcome === "throttled" && throttled++ < this.maxThrottleRetries) {
          const wait = failure.retryAfterMs ?? backoffDelayMs(throttled, this.backoff, this.random);
          this.limiter.penalize(keys[0], now + wait);
          this.limiter.slowDown(tenantKey(tenantId), now);
          attempt--;
          await sleep(wait);
        } else if (failure.outcome === "transient" && attempt < this.maxAttempts) {
          await sleep(backoffDelayMs(attempt, this.backoff, this.random));
        } else {
          throw err;
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------- claiming

  private async activate(job: Job): Promise<void> {
    if (this.active.has(job.id) || this.activating.has(job.id) || this.stopping) return;
    this.activating.add(job.id);
    try {
      // Nothing of this job is in flight in this process (it was not active), so "sending" means interrupted.
      const resumed = await this.store.jobs.transitionAll(job.id, "sending", "pending", RESUMED_REASON);
      if (resumed) this.log.warn({ jobId: job.id, deliveries: resumed }, "re-sending deliveries interrupted by a restart");
      const now = this.clock.now();
      if (job.status === "queued") {
        await this.store.jobs.updateJob(job.id, { status: "running", startedAt: this.iso() });
        job = { ...job, status: "running" };
      }
      const aj: ActiveJob = {
        job, cursor: -1, exhausted: false, claiming: false, finishing: false, cancelled: false, buffered: 0, inFlight: 0,
        throttleRetries: job.throttleRetries, lastProgress: { at: now, sent: 0 }, startedAt: now, drainWaiters: [],
      };
      this.active.set(job.id, aj);
      this.log.info({ jobId: job.id, total: job.total, triggeredBy: job.triggeredBy }, "delivery job running");
      if (this.progressIntervalMs > 0) {
        aj.progressTimer = setInterval(() => void this.reportProgress(aj), this.progressIntervalMs);
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
      while (!aj.exhausted && !aj.cancelled && !this.stopping && aj.buffered < this.jobBufferTarget) {
        if (this.totalBuffered >= this.maxBuffered) {
          this.starved.add(aj);
          break;
        }
        const batch = await this.store.jobs.listDeliveriesByStatus(aj.job.id, ["pending"], this.claimChunk, aj.cursor < 0 ? undefined : aj.cursor);
        if (batch.length < this.claimChunk) aj.exhausted = true;
        if (batch.length) aj.cursor = batch[batch.length - 1].seq;
        const tasks = await Promise.all(batch.map((d) => this.prepare(aj, d)));
        if (aj.cancelled || this.stopping) break;
        const now = this.clock.now();
        for (const task of tasks) {
          if (!task) continue;
          aj.buffered++;
          this.totalBuffered++;
          this.queue.push(task, now);
        }
        this.schedulePump();
      }
    } catch (err) {
      this.log.error({ jobId: aj.job.id, err: errorText(err) }, "could not read deliveries; retrying");
      setTimeout(() => void this.claim(aj), STORE_RETRY_MS).unref();
    } finally {
      aj.claiming = false;
    }
    void this.maybeFinish(aj);
  }

  /** Opt-out check and 1:1 lookup before a delivery may use any of Teams' budget. Undefined = settled here. */
  private async prepare(aj: ActiveJob, delivery: Delivery): Promise<DeliveryTask | undefined> {
    const r = delivery.recipient;
    // A person opts out by their ids; a group chat or channel is muted by its target key (see HeraldBot).
    const userKeys = [r.aadObjectId, r.userId, r.targetKey].filter((k): k is string => Boolean(k));
    if (userKeys.length && (await this.store.preferences.isOptedOut(r.tenantId, userKeys, aj.job.category))) {
      await this.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "skipped", reason: "opted out" });
      return undefined;
    }
    const task: DeliveryTask = {
      kind: "delivery", job: aj, delivery, phase: "send", recipientDirty: false, createAttempts: 0, tenantId: r.tenantId, keys: [],
      notBefore: delivery.notBefore ?? 0,
    };
    if (r.newThreadInChannel) {
      task.phase = "thread";
      task.keys = createKeys(r.tenantId, { channelId: r.newThreadInChannel });
      return task;
    }
    if (!r.conversationId && r.userId) {
      const member = await this.store.members.get(r.tenantId, r.userId);
      if (member?.personalConversationId) {
        delivery.recipient = { ...r, conversationId: member.personalConversationId };
        task.recipientDirty = true;
      } else {
        task.phase = "create";
        task.keys = createKeys(r.tenantId, { userId: r.userId });
        return task;
      }
    }
    if (!delivery.recipient.conversationId) {
      await this.store.jobs.updateDelivery(aj.job.id, delivery.recipientKey, { status: "failed", reason: "recipient has neither a conversation nor a user id" });
      return undefined;
    }
    task.keys = sendKeys(r.tenantId, delivery.recipient.conversationId);
    return task;
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
    while (this.inFlight < this.concurrency) {
      const now = this.clock.now();
      const next = this.queue.next(now);
      if (next === undefined) break;
      if (typeof next === "number") {
        this.armTimer(next, now);
        break;
      }
      this.limiter.take(next.keys, now);
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
      else await this.runDelivery(task);
    } catch (err) {
      // Only store errors get here: forget the task; the job's final check finds it still pending and re-claims.
      if (task.kind === "delivery") {
        this.log.error({ jobId: task.job.job.id, recipientKey: task.delivery.recipientKey, err: errorText(err) }, "delivery bookkeeping failed");
        this.release(task.job, 1);
      } else {
        this.log.error({ err: errorText(err) }, "paced call failed");
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

  private async runDelivery(task: DeliveryTask): Promise<void> {
    const aj = task.job;
    const d = task.delivery;
    const jobId = aj.job.id;
    if (aj.cancelled) return this.release(aj, 1);

    if (task.phase === "create") {
      const r = d.recipient;
      // The create is an attempt too (bounded like one), but the delivery stays "pending": creating a 1:1 is
      // idempotent in Teams, so an interrupted create costs nothing.
      await this.store.jobs.updateDelivery(jobId, d.recipientKey, { attemptsIncrement: 1 });
      d.attempts++;
      task.createAttempts++;
      let conversationId: string;
      try {
        conversationId = await this.connector.createPersonalConversation(r.tenantId, r.serviceUrl, r.userId!);
      } catch (err) {
        return this.settleFailure(task, classifyTeamsError(err));
      }
      await this.rememberPersonalConversation(r, conversationId);
      d.recipient = { ...r, conversationId };
      await this.store.jobs.updateDelivery(jobId, d.recipientKey, { recipient: d.recipient });
      if (aj.cancelled) return this.release(aj, 1);
      task.phase = "send";
      task.keys = sendKeys(r.tenantId, conversationId);
      task.notBefore = 0;
      this.queue.push(task, this.clock.now());
      return;
    }

    let activity: Partial<Activity>;
    try {
      activity = this.render(aj.job, d.recipient);
    } catch (err) {
      await this.store.jobs.updateDelivery(jobId, d.recipientKey, { status: "failed", reason: `could not render the card: ${errorText(err)}` });
      return this.release(aj, 1);
    }

    // Record the attempt before making it: a crash from here until "sent" is stored is the duplicate window.
    await this.store.jobs.updateDelivery(jobId, d.recipientKey, {
      status: "sending", attemptsIncrement: 1, ...(task.recipientDirty ? { recipient: d.recipient } : {}),
    });
    task.recipientDirty = false;
    d.attempts++;
    let activityId: string | undefined;
    let recipient: DeliveryRecipient | undefined;
    try {
      const r = d.recipient;
      if (task.phase === "thread") {
        const created = await this.connector.createChannelThread(r.serviceUrl, r.tenantId, r.teamId ?? r.newThreadInChannel!, r.newThreadInChannel!, activity);
        activityId = created.activityId;
        recipient = { ...r, conversationId: created.conversationId };
      } else {
        activityId = (await this.connector.sendActivity({ ...r, conversationId: r.conversationId! }, activity)).activityId;
      }
    } catch (err) {
      return this.settleFailure(task, classifyTeamsError(err));
    }
    const retried = d.attempts - d.throttled - task.createAttempts > 1 || d.reason === RESUMED_REASON;
    await this.store.jobs.updateDelivery(jobId, d.recipientKey, {
      status: "sent", activityId, notBefore: null, ...(recipient ? { recipient } : {}),
      ...(retried ? { reason: d.reason === RESUMED_REASON ? `sent again after a restart (attempt ${d.attempts}); may be a duplicate` : `sent on attempt ${d.attempts}` } : {}),
    });
    this.release(aj, 1);
  }

  /** Store the 1:1 id on the member (creating the member, as a member of that 1:1 chat, when Herald never saw them). */
  private async rememberPersonalConversation(r: DeliveryRecipient, conversationId: string): Promise<void> {
    const userId = r.userId!;
    if (await this.store.members.get(r.tenantId, userId)) {
      await this.store.members.setPersonalConversation(r.tenantId, userId, conversationId);
      return;
    }
    await this.store.members.upsertMembers(targetKey(r.tenantId, conversationId), [{
      tenantId: r.tenantId, userId, serviceUrl: r.serviceUrl, personalConversationId: conversationId,
      ...(r.aadObjectId ? { aadObjectId: r.aadObjectId } : {}), ...(r.name ? { name: r.name } : {}), ...(r.timeZone ? { timeZone: r.timeZone } : {}),
    }]);
  }

  private async settleFailure(task: DeliveryTask, failure: TeamsFailure): Promise<void> {
    const aj = task.job;
    const d = task.delivery;
    const jobId = aj.job.id;
    const now = this.clock.now();
    const reason = describeFailure(failure);
    const update = (patch: Parameters<HeraldStore["jobs"]["updateDelivery"]>[2]) => this.store.jobs.updateDelivery(jobId, d.recipientKey, patch);

    switch (failure.outcome) {
      case "throttled": {
        d.throttled++;
        aj.throttleRetries++;
        await this.store.jobs.updateJob(jobId, { throttleRetriesIncrement: 1 });
        const wait = failure.retryAfterMs ?? backoffDelayMs(d.throttled, this.backoff, this.random);
        this.limiter.penalize(task.keys[0], now + wait);
        this.limiter.slowDown(tenantKey(d.recipient.tenantId), now);
        this.log.debug({ jobId, recipientKey: d.recipientKey, waitMs: wait, retryAfter: failure.retryAfterMs !== undefined }, "throttled by Teams");
        if (d.throttled > this.maxThrottleRetries) {
          await update({ status: "failed", throttledIncrement: 1, reason: `${reason}; throttled ${d.throttled} times, giving up` });
          return this.release(aj, 1);
        }
        return this.retryLater(task, now + wait, { throttledIncrement: 1, reason: `${reason}; retrying` });
      }
      case "transient": {
        const tries = d.attempts - d.throttled;
        if (tries >= this.maxAttempts) {
          await update({ status: "failed", reason: `${reason} (gave up after ${tries} attempts)` });
          return this.release(aj, 1);
        }
        const wait = backoffDelayMs(tries, this.backoff, this.random);
        return this.retryLater(task, now + wait, { reason: `${reason}; retrying (attempt ${tries} of ${this.maxAttempts})` });
      }
      case "gone": {
        await update({ status: "gone", reason: failure.reason });
        if (d.recipient.targetKey) await this.store.targets.markGone(d.recipient.targetKey, failure.reason, this.iso());
        this.log.info({ jobId, recipientKey: d.recipientKey, reason: failure.reason }, "target gone; pruned");
        return this.release(aj, 1);
      }
      case "failed": {
        await update({ status: "failed", reason });
        this.log.warn({ jobId, recipientKey: d.recipientKey, status: failure.status, code: failure.code }, "delivery failed");
        return this.release(aj, 1);
      }
    }
  }

  private async retryLater(task: DeliveryTask, notBefore: number, patch: { throttledIncrement?: number; reason: string }): Promise<void> {
    const aj = task.job;
    if (aj.cancelled || this.stopping) {
      // Cancelled: do not retry. Stopping: leave it pending for the next start.
      await this.store.jobs.updateDelivery(aj.job.id, task.delivery.recipientKey, {
        ...patch, status: aj.cancelled ? "cancelled" : "pending", notBefore, ...(aj.cancelled ? { reason: "cancelled" } : {}),
      });
      return this.release(aj, 1);
    }
    await this.store.jobs.updateDelivery(aj.job.id, task.delivery.recipientKey, { ...patch, status: "pending", notBefore });
    task.delivery.reason = patch.reason;
    task.notBefore = notBefore;
    this.queue.push(task, this.clock.now());
  }

  /** Run `call` when the tenant's budget and `keys` admit it, inside the concurrency limit. */
  private paced<T>(tenantId: string, keys: RateKey[], call: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new Error("the delivery engine is stopping"));
    return new Promise<T>((resolve, reject) => {
      const task: CallTask = { kind: "call", tenantId, keys, notBefore: 0, run: () => call().then(resolve, reject), abandon: reject };
      this.queue.push(task, this.clock.now());
      this.schedulePump();
    });
  }

  // ---------------------------------------------------------------------------------------------- finishing

  /** `count` tasks of this job reached a final state (or left memory). */
  private release(aj: ActiveJob, count: number): void {
    aj.buffered -= count;
    this.totalBuffered -= count;
    if (this.starved.size && this.totalBuffered <= this.maxBuffered - this.claimChunk) {
      for (const other of [...this.starved]) if (other !== aj) void this.claim(other);
    }
  }

  private async maybeFinish(aj: ActiveJob): Promise<void> {
    if (aj.finishing || aj.claiming || aj.cancelled || !aj.exhausted || aj.buffered > 0 || this.stopping) return;
    if (this.active.get(aj.job.id) !== aj) return;
    aj.finishing = true;
    try {
      const counts = await this.store.jobs.counts(aj.job.id);
      if (aj.cancelled) {
        aj.finishing = false; // cancel() finishes the job
        return;
      }
      if (counts.pending + counts.sending > 0) {
        // Left in the store but not in memory (a bookkeeping write failed): pick them up again from the start.
        await this.store.jobs.transitionAll(aj.job.id, "sending", "pending", RESUMED_REASON);
        aj.cursor = -1;
        aj.exhausted = false;
        aj.finishing = false;
        setTimeout(() => void this.claim(aj), counts.sending > 0 ? STORE_RETRY_MS : 0).unref();
        return;
      }
      const status: JobStatus = counts.sent === 0 && counts.failed > 0 ? "failed" : "completed";
      await this.store.jobs.updateJob(aj.job.id, {
        status, finishedAt: this.iso(), ...(status === "failed" ? { error: `no delivery succeeded (${counts.failed} failed)` } : {}),
      });
      const seconds = Math.max(0.001, (this.clock.now() - aj.startedAt) / 1000);
      this.log.info({ jobId: aj.job.id, status, ...countsForLog(counts), throttled: aj.throttleRetries, seconds: round(seconds), msgPerSec: round(counts.sent / seconds) }, "delivery job finished");
      this.deactivate(aj);
    } catch (err) {
      this.log.error({ jobId: aj.job.id, err: errorText(err) }, "could not finish delivery job; retrying");
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

  private async reportProgress(aj: ActiveJob): Promise<void> {
    try {
      const counts = await this.store.jobs.counts(aj.job.id);
      const now = this.clock.now();
      const seconds = Math.max(0.001, (now - aj.lastProgress.at) / 1000);
      const msgPerSec = round((counts.sent - aj.lastProgress.sent) / seconds);
      aj.lastProgress = { at: now, sent: counts.sent };
      this.log.info({
        jobId: aj.job.id, sent: counts.sent, pending: counts.pending + counts.sending, failed: counts.failed, gone: counts.gone,
        skipped: counts.skipped, msgPerSec, throttled: aj.throttleRetries,
      }, "delivery progress");
    } catch (err) {
      this.log.warn({ jobId: aj.job.id, err: errorText(err) }, "could not read delivery progress");
    }
  }

  private isIdle(): boolean {
    return this.active.size === 0 && this.activating.size === 0 && this.waking === 0 && this.inFlight === 0 && this.queue.size === 0;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length && this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private iso(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function countsForLog(c: DeliveryCounts): Record<string, number> {
  return { total: c.total, sent: c.sent, failed: c.failed, gone: c.gone, skipped: c.skipped, cancelled: c.cancelled };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Message only: a connector error object carries the request, including its Authorization header. */
function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
