/**
 * The end of a job, decided from the store so any instance can do it: a job is finished by whichever slice
 * owner settles its last delivery (each checks the job's counts after closing its slice; the last to write
 * sees none left), and cancelled by whichever instance the API call reached.
 */
import type { DeliveryCounts, JobStatus } from "../store/types";
import { isoNow, type ActiveJob, type EngineContext } from "./engine-context";
import { countsForLog, round } from "./engine-report";

const UNFINISHED: JobStatus[] = ["queued", "running"];

/** How long a cancel waits for requests in flight on other instances before reporting. */
const CANCEL_DRAIN_MS = 5000;

/** Finish the job when no delivery is pending or in flight. True when this call finished it. */
export async function finishJobIfDone(ctx: EngineContext, jobId: string): Promise<boolean> {
  const counts = await ctx.store.jobs.counts(jobId);
  if (counts.pending + counts.sending > 0) return false;
  const status: JobStatus = counts.sent === 0 && counts.failed > 0 ? "failed" : "completed";
  const finished = await ctx.store.jobs.updateJob(jobId, {
    status, finishedAt: isoNow(ctx), ...(status === "failed" ? { error: `no delivery succeeded (${counts.failed} failed)` } : {}),
  }, UNFINISHED);
  if (!finished) return false; // another slice's owner (or a cancel) got there first
  const job = await ctx.store.jobs.getJob(jobId);
  const durationMs = job?.startedAt ? Math.max(0, ctx.clock.now() - Date.parse(job.startedAt)) : 0;
  if (job) ctx.events.emit("onJobFinished", { job, status, counts, durationMs });
  const seconds = Math.max(0.001, durationMs / 1000);
  ctx.log.info({ jobId, status, ...countsForLog(counts), throttled: job?.throttleRetries ?? 0, seconds: round(seconds), msgPerSec: round(counts.sent / seconds) },
    "delivery job finished");
  return true;
}

export interface LocalSlices {
  /** Slices of this job being sent by this process. */
  local(): ActiveJob[];
  /** Stop one: drop its queued tasks, resolve when its requests in flight have finished. */
  stopLocal(aj: ActiveJob): Promise<void>;
}

export async function cancelJob(ctx: EngineContext, jobId: string, slices: LocalSlices): Promise<boolean> {
  const job = await ctx.store.jobs.getJob(jobId);
  if (!job || !UNFINISHED.includes(job.status)) return false;
  if (!(await ctx.store.jobs.updateJob(jobId, { status: "cancelled", finishedAt: isoNow(ctx) }, UNFINISHED))) return false;
  // Without their work items no owner picks the slices up again; owners sending them now notice at their next poll,
  // and their "pending → sending" check-and-set fails for every delivery cancelled below.
  await Promise.all(job.slices.map((s) => ctx.store.work.remove(s.partition, "job", jobId)));
  await ctx.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
  await Promise.all(slices.local().map((aj) => slices.stopLocal(aj)));
  let counts = await waitForSending(ctx, jobId);
  // A retry scheduled meanwhile is pending again; an owner that died mid-request left "sending" for good.
  await ctx.store.jobs.transitionAll(jobId, "pending", "cancelled", "cancelled");
  if (counts.sending > 0) {
    await ctx.store.jobs.transitionAll(jobId, "sending", "cancelled", "cancelled (an interrupted attempt may have been delivered)");
  }
  counts = await ctx.store.jobs.counts(jobId);
  const durationMs = job.startedAt ? Math.max(0, ctx.clock.now() - Date.parse(job.startedAt)) : 0;
  ctx.events.emit("onJobFinished", { job: { ...job, status: "cancelled" }, status: "cancelled", counts, durationMs });
  ctx.log.info({ jobId, ...countsForLog(counts) }, "delivery job cancelled");
  return true;
}

async function waitForSending(ctx: EngineContext, jobId: string): Promise<DeliveryCounts> {
  const deadline = Date.now() + CANCEL_DRAIN_MS;
  for (;;) {
    const counts = await ctx.store.jobs.counts(jobId);
    if (counts.sending === 0 || Date.now() >= deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}


