/**
 * What is waiting, read when metrics are collected (each scrape of /api/metrics, each Azure Monitor export):
 * deliveries not yet final in the store (shared by every instance, so every instance reports the same number),
 * this instance's engine queue and requests in flight, and a heartbeat the "no heartbeat" alert watches.
 */
import type { Meter } from "@opentelemetry/api";
import type { HeraldStore } from "../store/types";

export interface EngineStats {
  stats(): { activeJobs: number; queued: number; inFlight: number };
}

export function observeBacklog(meter: Meter, sources: { store: HeraldStore; engine: EngineStats; onError(error: unknown): void }): void {
  const waiting = meter.createObservableGauge("herald.deliveries.waiting", {
    description: "Deliveries of unfinished notifications not yet in a final status (pending or sending), from the store",
  });
  const queued = meter.createObservableGauge("herald.engine.queued", { description: "Deliveries this instance holds in memory, ready to send" });
  const inFlight = meter.createObservableGauge("herald.engine.in_flight", { description: "Bot Connector requests this instance has in flight" });
  const activeJobs = meter.createObservableGauge("herald.jobs.active", { description: "Notifications this instance is sending" });
  const up = meter.createObservableGauge("herald.up", { description: "1 while Herald runs (the heartbeat alert fires when it stops arriving)" });

  meter.addBatchObservableCallback(async (result) => {
    const stats = sources.engine.stats();
    result.observe(up, 1);
    result.observe(queued, stats.queued);
    result.observe(inFlight, stats.inFlight);
    result.observe(activeJobs, stats.activeJobs);
    try {
      result.observe(waiting, await deliveriesWaiting(sources.store));
    } catch (error) {
      sources.onError(error); // the store is unreachable: report the rest, and no number rather than a wrong one
    }
  }, [waiting, queued, inFlight, activeJobs, up]);
}

async function deliveriesWaiting(store: HeraldStore): Promise<number> {
  let total = 0;
  for (const job of await store.jobs.listUnfinishedJobs()) {
    const counts = await store.jobs.counts(job.id);
    total += counts.pending + counts.sending;
  }
  return total;
}
