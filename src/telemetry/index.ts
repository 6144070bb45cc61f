/** Herald's telemetry: what app.ts wires (see telemetry.ts for where it goes). */
import type { InstallListener } from "../bot/herald-bot";
import type { DeliveryObserver } from "../delivery/delivery-events";
import { deliveryMetrics } from "./delivery-metrics";
import { deliverySpans } from "./delivery-spans";
import { installMetrics } from "./install-metrics";
import type { Telemetry } from "./telemetry";

export { observeBacklog } from "./backlog-gauges";
export { traceApiRequests, traceBotTurns } from "./request-spans";
export { createLocalTelemetry, startTelemetry, type Telemetry } from "./telemetry";

/** The delivery engine's observers and the bot's install listener that feed the metrics and traces. */
export function heraldInstruments(telemetry: Telemetry): { deliveryObservers: DeliveryObserver[]; installs: InstallListener } {
  return {
    deliveryObservers: [deliveryMetrics(telemetry.meter), deliverySpans(telemetry.tracer)],
    installs: installMetrics(telemetry.meter),
  };
}
