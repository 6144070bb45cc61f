/**
 * What the delivery engine tells the rest of Herald while it works. Telemetry (metrics, traces) and the
 * people's "My notifications" index listen here instead of reaching into the engine.
 *
 * Observers are called synchronously on the engine's path and must not throw or block: an observer that writes
 * somewhere does so in the background and handles its own errors. A throwing observer is logged and ignored.
 */
import type { Delivery, DeliveryCounts, Job, JobStatus } from "../store/types";
import { classifyTeamsError } from "./teams-errors";

/** One Bot Connector request the engine made (or tried to make). */
export interface RequestEvent {
  operation: "send" | "createConversation" | "createThread" | "getMembers" | "updateActivity" | "deleteActivity";
  tenantId: string;
  jobId?: string;
  recipientKey?: string;
  /** 1-based attempt of this delivery (or paced call); 429s count too. */
  attempt: number;
  /** "ok", or how the failure was classified (teams-errors.ts). */
  outcome: "ok" | "throttled" | "transient" | "gone" | "failed";
  /** HTTP status when Teams answered (0 = no answer). */
  status?: number;
  code?: string;
  durationMs: number;
  /** Wall-clock start, epoch ms (for traces). */
  startedAt: number;
}

/** A delivery reached a final status: sent, failed, gone, skipped or cancelled. */
export interface SettledEvent {
  job: Job;
  delivery: Delivery;
}

export interface JobFinishedEvent {
  job: Job;
  status: JobStatus;
  counts: DeliveryCounts;
  durationMs: number;
}

export interface DeliveryObserver {
  onRequest?(event: RequestEvent): void;
  onSettled?(event: SettledEvent): void;
  /** A retry was scheduled (throttled or transient); `waitMs` until it may run. */
  onRetry?(event: { jobId: string; tenantId: string; recipientKey: string; reason: "throttled" | "transient"; waitMs: number }): void;
  onJobFinished?(event: JobFinishedEvent): void;
}

type Handler = keyof DeliveryObserver;

/** Fans an event out to every observer; an observer's exception never reaches the engine. */
export class DeliveryEvents {
  constructor(private readonly observers: readonly DeliveryObserver[], private readonly onError: (error: unknown, handler: Handler) => void) {}

  emit<H extends Handler>(handler: H, event: Parameters<NonNullable<DeliveryObserver[H]>>[0]): void {
    for (const observer of this.observers) {
      const fn = observer[handler] as ((e: typeof event) => void) | undefined;
      if (!fn) continue;
      try {
        fn.call(observer, event);
      } catch (error) {
        this.onError(error, handler);
      }
    }
  }

  get enabled(): boolean {
    return this.observers.length > 0;
  }
}

/** Runs one connector call, telling the observers how it went (classified like the engine classifies it). */
export async function observeRequest<T>(
  events: DeliveryEvents,
  request: Pick<RequestEvent, "operation" | "tenantId" | "jobId" | "recipientKey" | "attempt">,
  call: () => Promise<T>,
): Promise<T> {
  if (!events.enabled) return call();
  const startedAt = Date.now();
  const t0 = performance.now();
  try {
    const result = await call();
    events.emit("onRequest", { ...request, outcome: "ok", durationMs: performance.now() - t0, startedAt });
    return result;
  } catch (error) {
    const failure = classifyTeamsError(error);
    const status = failure.outcome === "throttled" ? 429 : failure.status;
    const code = failure.outcome === "gone" ? failure.reason : failure.code;
    events.emit("onRequest", {
      ...request, outcome: failure.outcome, durationMs: performance.now() - t0, startedAt,
      ...(status !== undefined ? { status } : {}), ...(code !== undefined ? { code } : {}),
    });
    throw error;
  }
}
