/**
 * Retention: deliveries of notifications that finished more than `days` ago, then the notifications themselves,
 * removed in small batches with pauses between them, so the store stays the size of `days` of traffic (~2 KB per
 * delivery: a daily 10,000-person broadcast would otherwise add ~7 GB a year) and sending never waits on a long
 * delete. Runs on one instance: the owner of delivery partition 0 (every process, with one).
 */
import type { PartitionOwnership } from "../cluster/ownership";
import type { Logger } from "../logger";
import type { HeraldStore } from "../store/types";
import { errorText } from "./engine-report";

export interface RetentionOptions {
  store: HeraldStore;
  ownership: Pick<PartitionOwnership, "owns">;
  log: Logger;
  /** Keep notifications this many days after they finished. */
  days: number;
  clock?: { now(): number };
  /** How often to look (default hourly). */
  intervalMs?: number;
  /** Rows removed per store call (default 500), and the pause between calls (default 100 ms). */
  batch?: number;
  pauseMs?: number;
}

export interface RetentionRun {
  notifications: number;
  deliveries: number;
}

export class Retention {
  private timer?: NodeJS.Timeout;
  private running?: Promise<RetentionRun>;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    this.stopped = false;
    const intervalMs = this.options.intervalMs ?? 3_600_000;
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
    // A first pass soon after start (not at once: start-up is busy enough).
    setTimeout(() => void this.runOnce(), Math.min(intervalMs, 60_000)).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; concurrent calls share it. Never throws (errors are logged, the next pass tries again). */
  runOnce(): Promise<RetentionRun> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<RetentionRun> {
    const { store, log, days } = this.options;
    const run: RetentionRun = { notifications: 0, deliveries: 0 };
    if (!this.options.ownership.owns(0)) return run;
    const now = this.options.clock?.now() ?? Date.now();
    const cutoff = new Date(now - days * 86_400_000).toISOString();
    const batch = this.options.batch ?? 500;
    const pause = () => new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 100));
    try {
      for (;;) {
        const jobs = await store.jobs.listFinishedBefore(cutoff, 20);
        if (jobs.length === 0 || this.stopped) break;
        for (const job of jobs) {
          for (let n = await store.jobs.purgeDeliveries(job.id, batch); n > 0; n = await store.jobs.purgeDeliveries(job.id, batch)) {
            run.deliveries += n;
            if (this.stopped) return run;
            await pause();
          }
          if (await store.jobs.removeJob(job.id)) run.notifications++;
        }
      }
      if (run.notifications) log.info({ ...run, olderThanDays: days }, "retention removed finished notifications");
    } catch (error) {
      log.warn({ err: errorText(error), ...run }, "retention pass failed; the next one continues");
    }
    return run;
  }
}
