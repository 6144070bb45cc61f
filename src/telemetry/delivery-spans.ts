/**
 * The delivery engine's events as traces: one span per Bot Connector request (tenant, job, delivery, attempt,
 * outcome, status) and one per finished notification. The engine reports a request after it completes, so each
 * span is recorded with the request's own start and end times. They are roots: a broadcast outlives the API call
 * that created it, and its thousands of requests would otherwise hang under that one trace.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { DeliveryObserver } from "../delivery/delivery-events";

export function deliverySpans(tracer: Tracer): DeliveryObserver {
  return {
    onRequest(event) {
      const span = tracer.startSpan(`teams ${event.operation}`, {
        kind: SpanKind.CLIENT,
        startTime: event.startedAt,
        attributes: {
          "herald.tenant.id": event.tenantId,
          ...(event.jobId ? { "herald.job.id": event.jobId } : {}),
          ...(event.recipientKey ? { "herald.delivery.recipient": event.recipientKey } : {}),
          "herald.attempt": event.attempt,
          "herald.outcome": event.outcome,
          ...(event.status !== undefined ? { "http.response.status_code": event.status } : {}),
          ...(event.code ? { "herald.teams.code": event.code } : {}),
          "peer.service": "Bot Connector",
        },
      }, ROOT_CONTEXT);
      if (event.outcome !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: event.code ?? event.outcome });
      span.end(event.startedAt + event.durationMs);
    },
    onJobFinished({ job, status, counts, durationMs }) {
      const end = Date.now();
      const span = tracer.startSpan("herald notification", {
        kind: SpanKind.INTERNAL,
        startTime: end - durationMs,
        attributes: {
          "herald.job.id": job.id,
          "herald.job.status": status,
          "herald.job.triggered_by": job.triggeredBy,
          "herald.job.total": counts.total,
          "herald.job.sent": counts.sent,
          "herald.job.failed": counts.failed,
          "herald.job.gone": counts.gone,
          "herald.job.skipped": counts.skipped,
          "herald.job.cancelled": counts.cancelled,
        },
      }, ROOT_CONTEXT);
      if (status === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: job.error ?? "failed" });
      span.end(end);
    },
  };
}
