/**
 * What DeliveryEngine shares with its helper modules: its options, the shapes of tasks and active jobs, and the
 * context (the engine's collaborators and settings) that the helpers receive instead of the engine itself.
 */
import type { Activity } from "botbuilder";
import type { PartitionOwnership } from "../cluster/ownership";
import type { Logger } from "../logger";
import type { Delivery, DeliveryRecipient, HeraldStore, Job, SeqRange, WorkItem } from "../store/types";
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { DeliveryEvents, type DeliveryObserver } from "./delivery-events";
import { DispatchClock } from "./dispatch-clock";
import { DispatchQueue, type Schedulable } from "./dispatch-queue";
import { RateLimiter } from "./rate-limiter";
import { teamsPolicies, type PacingWindows } from "./rate-keys";
import type { TeamsConnector } from "./teams-connector";

/** Exported from engine.ts, with DeliveryEngine. */
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
  /** Told about every request, settled delivery and finished job (telemetry, the people's inbox). */
  observers?: DeliveryObserver[];
  /** Which delivery partitions this process may send for. Default: all of them (one process per store). */
  ownership?: PartitionOwnership;
  /** How often the work items of owned partitions are read (the doorbell for jobs created elsewhere). Default 500 ms. */
  workPollMs?: number;
  /** How often unfinished jobs are checked for a lost finish (on the owner of partition 0). Default 30 s. */
  janitorMs?: number;
  /** A graceful stop waits this long for requests in flight before leaving them to the next owner. Default 8 s. */
  stopTimeoutMs?: number;
  /** Runs work items other than jobs ("roster": read a conversation's members), on the partition's owner. */
  workHandlers?: Partial<Record<Exclude<WorkItem["kind"], "job">, (item: WorkItem) => Promise<void>>>;
}


/** Set on deliveries that were "sending" when the previous process stopped. */
export const RESUMED_REASON = "an attempt was in flight when Herald stopped; sending again (the recipient may get it twice)";

/** Wait before retrying a failed store read or write. */
export const STORE_RETRY_MS = 1000;

export type Phase = "create" | "send" | "thread";

export interface DeliveryTask extends Schedulable {
  kind: "delivery";
  /** The instant the limiter admitted it for (the request leaves then, after the store write). */
  plannedAt: number;
  partition: number;
  job: ActiveJob;
  delivery: Delivery;
  phase: Phase;
  /** The recipient changed in memory (1:1 conversation found) and must be written with the next update. */
  recipientDirty: boolean;
  /** Attempts spent creating the 1:1 in this process (not send attempts, for the "sent on attempt n" note). */
  createAttempts: number;
}

export interface CallTask extends Schedulable {
  kind: "call";
  plannedAt: number;
  /** The partition of the call's tenant: dropped when that partition is handed over. */
  partition: number;
  run: () => Promise<void>;
  /** Settles the caller's promise when the task is dropped without running (stop). */
  abandon: (error: Error) => void;
}

export type Task = DeliveryTask | CallTask;

/** One slice of a job (its deliveries in one partition) that this process is sending. */
export interface ActiveJob {
  job: Job;
  partition: number;
  /** The slice's seq range. */
  range: SeqRange;
  /** `${jobId}#${partition}` */
  key: string;
  /** The partition is being handed over or was lost: claim nothing more, finish nothing. */
  stopped: boolean;
  /** Highest seq claimed so far (range.from − 1 before the first claim). */
  cursor: number;
  exhausted: boolean;
  claiming: boolean;
  finishing: boolean;
  cancelled: boolean;
  /** Tasks of this job queued or in flight. */
  buffered: number;
  inFlight: number;
  throttleRetries: number;
  startedAt: number;
  drainWaiters: Array<() => void>;
}

export interface EngineContext {
  store: HeraldStore;
  connector: TeamsConnector;
  render: DeliveryEngineOptions["render"];
  log: Logger;
  clock: { now(): number };
  limiter: RateLimiter;
  queue: DispatchQueue<Task>;
  /** The planning clock of the limiter and the queue (a little ahead of `clock`: dispatch-clock.ts). */
  dispatch: DispatchClock;
  concurrency: number;
  maxAttempts: number;
  maxThrottleRetries: number;
  backoff: BackoffOptions;
  progressIntervalMs: number;
  claimChunk: number;
  jobBufferTarget: number;
  maxBuffered: number;
  random: () => number;
  events: DeliveryEvents;
  /** True once stop() has begun: a retry is then left pending for the next start. */
  isStopping(): boolean;
  /** `count` tasks of this job reached a final state (or left memory). */
  release(aj: ActiveJob, count: number): void;
}

/** Resolve the options' defaults and build the limiter and queue. */
export function createEngineContext(options: DeliveryEngineOptions, engine: Pick<EngineContext, "isStopping" | "release">): EngineContext {
  const timeScale = options.timeScale ?? 1;
  const claimChunk = Math.max(1, options.claimChunk ?? 256);
  const limiter = new RateLimiter({
    policies: teamsPolicies(options.perTenantPerSecond ?? 50, timeScale, options.windows),
    aimd: { recoverStepMs: 1000 * timeScale },
    sweepEveryMs: 60_000 * timeScale,
  });
  return {
    store: options.store,
    connector: options.connector,
    render: options.render,
    log: options.logger,
    clock: options.clock ?? { now: () => Date.now() },
    limiter,
    queue: new DispatchQueue<Task>(limiter),
    dispatch: new DispatchClock(options.clock ?? { now: () => Date.now() }),
    concurrency: Math.max(1, options.concurrency ?? 64),
    maxAttempts: Math.max(1, options.maxAttempts ?? 6),
    maxThrottleRetries: Math.max(0, options.maxThrottleRetries ?? 10),
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    progressIntervalMs: options.progressIntervalMs ?? 5000,
    claimChunk,
    jobBufferTarget: Math.max(1, options.jobBufferTarget ?? 2000),
    maxBuffered: Math.max(claimChunk, options.maxBuffered ?? 20_000),
    random: options.random ?? Math.random,
    events: new DeliveryEvents(options.observers ?? [], (err, handler) =>
      options.logger.warn({ handler, err: err instanceof Error ? err.message : String(err) }, "a delivery observer threw; ignored")),
    isStopping: engine.isStopping,
    release: engine.release,
  };
}

export function isoNow(ctx: Pick<EngineContext, "clock">): string {
  return new Date(ctx.clock.now()).toISOString();
}
