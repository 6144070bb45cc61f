/** The engine's progress lines and the small formatting helpers its log lines share. */
import type { DeliveryCounts } from "../store/types";
import type { EngineContext } from "./engine-context";

/** A job this instance is sending (some slice of it): the progress line's state. */
export interface JobProgress {
  jobId: string;
  timer: NodeJS.Timeout;
  last: { at: number; sent: number };
}

/** One "delivery progress" line: the job's counts so far (all instances) and its send rate since the previous line. */
export async function reportProgress(ctx: Pick<EngineContext, "store" | "clock" | "log">, progress: JobProgress): Promise<void> {
  try {
    const [counts, job] = await Promise.all([ctx.store.jobs.counts(progress.jobId), ctx.store.jobs.getJob(progress.jobId)]);
    const now = ctx.clock.now();
    const seconds = Math.max(0.001, (now - progress.last.at) / 1000);
    const msgPerSec = round((counts.sent - progress.last.sent) / seconds);
    progress.last = { at: now, sent: counts.sent };
    ctx.log.info({
      jobId: progress.jobId, sent: counts.sent, pending: counts.pending + counts.sending, failed: counts.failed, gone: counts.gone,
      skipped: counts.skipped, msgPerSec, throttled: job?.throttleRetries ?? 0,
    }, "delivery progress");
  } catch (err) {
    ctx.log.warn({ jobId: progress.jobId, err: errorText(err) }, "could not read delivery progress");
  }
}

export function countsForLog(c: DeliveryCounts): Record<string, number> {
  return { total: c.total, sent: c.sent, failed: c.failed, gone: c.gone, skipped: c.skipped, cancelled: c.cancelled };
}

export function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Message only: a connector error object carries the request, including its Authorization header. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
