/** The engine's progress lines and the small formatting helpers its log lines share. */
import type { DeliveryCounts } from "../store/types";
import type { ActiveJob, EngineContext } from "./engine-context";

/** One "delivery progress" line: counts so far and the send rate since the previous line. */
export async function reportProgress(ctx: Pick<EngineContext, "store" | "clock" | "log">, aj: ActiveJob): Promise<void> {
  try {
    const counts = await ctx.store.jobs.counts(aj.job.id);
    const now = ctx.clock.now();
    const seconds = Math.max(0.001, (now - aj.lastProgress.at) / 1000);
    const msgPerSec = round((counts.sent - aj.lastProgress.sent) / seconds);
    aj.lastProgress = { at: now, sent: counts.sent };
    ctx.log.info({
      jobId: aj.job.id, sent: counts.sent, pending: counts.pending + counts.sending, failed: counts.failed, gone: counts.gone,
      skipped: counts.skipped, msgPerSec, throttled: aj.throttleRetries,
    }, "delivery progress");
  } catch (err) {
    ctx.log.warn({ jobId: aj.job.id, err: errorText(err) }, "could not read delivery progress");
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
