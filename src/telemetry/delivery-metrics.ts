/**
 * The delivery engine's events as metrics: deliveries by outcome, every connector request (sends per second per
 * tenant, 429s, failures by status and Teams code), retries, and how long jobs take. Names and attributes are
 * what docs/operations.md and the workbook's queries (infra/monitoring/queries/) read.
 */
import type { Meter } from "@opentelemetry/api";
import type { DeliveryObserver } from "../delivery/delivery-events";

/** Job durations run from seconds (a team) to hours (100,000 people at 50/s is ~35 min). */
const JOB_DURATION_BUCKETS_S = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];

export function deliveryMetrics(meter: Meter): DeliveryObserver {
  const deliveries = meter.createCounter("herald.deliveries", {
    description: "Deliveries that reached a final status, by outcome (sent, failed, gone, skipped, cancelled) and tenant",
  });
  const requests = meter.createCounter("herald.connector.requests", {
    description: "Bot Connector requests, by tenant, operation, outcome (ok, throttled, transient, gone, failed), HTTP status and Teams error code",
  });
  const requestDuration = meter.createHistogram("herald.connector.duration", {
    description: "Duration of Bot Connector requests", unit: "ms",
  });
  const retries = meter.createCounter("herald.delivery.retries", {
    description: "Retries scheduled, by reason (throttled = 429, transient = 412/502/503/504/no answer) and tenant",
  });
  const jobDuration = meter.createHistogram("herald.job.duration", {
    description: "Time from a notification's first send to its final status, by status", unit: "s",
    advice: { explicitBucketBoundaries: JOB_DURATION_BUCKETS_S },
  });

  // The engine cancels a job's pending deliveries in bulk and reports only the total (onJobFinished); deliveries
  // in flight at that moment are reported one by one. Count each once.
  const cancelledOneByOne = new Map<string, number>();

  return {
    onRequest(event) {
      const attributes = {
        tenant: event.tenantId,
        operation: event.operation,
        outcome: event.outcome,
        status: event.status ?? (event.outcome === "ok" ? 200 : 0),
        ...(event.code ? { code: event.code } : {}),
      };
      requests.add(1, attributes);
      requestDuration.record(event.durationMs, { operation: event.operation, outcome: event.outcome });
    },
    onSettled({ delivery }) {
      deliveries.add(1, { outcome: delivery.status, tenant: delivery.recipient.tenantId });
      if (delivery.status === "cancelled") cancelledOneByOne.set(delivery.jobId, (cancelledOneByOne.get(delivery.jobId) ?? 0) + 1);
    },
    onRetry(event) {
      retries.add(1, { reason: event.reason, tenant: event.tenantId });
    },
    onJobFinished(event) {
      jobDuration.record(event.durationMs / 1000, { status: event.status });
      const inBulk = event.counts.cancelled - (cancelledOneByOne.get(event.job.id) ?? 0);
      cancelledOneByOne.delete(event.job.id);
      // A bulk cancel has no per-recipient tenant; a notification's audience is normally one tenant.
      const tenant = tenantOf(event.job);
      if (inBulk > 0) deliveries.add(inBulk, { outcome: "cancelled", ...(tenant ? { tenant } : {}) });
    },
  };
}

function tenantOf(job: { audience: Record<string, unknown> }): string | undefined {
  return typeof job.audience?.tenantId === "string" ? job.audience.tenantId : undefined;
}
