/**
 * Herald's OpenTelemetry: one meter and one tracer that the rest of Herald records into, read back two ways —
 * in Prometheus text at GET /api/metrics (always), and exported to Azure Monitor when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set (azure-monitor.ts). The instruments: delivery-metrics.ts,
 * install-metrics.ts, backlog-gauges.ts; the spans: delivery-spans.ts, request-spans.ts.
 */
import { metrics, trace, type Meter, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import type { HeraldConfig } from "../config";
import type { Logger } from "../logger";

export const INSTRUMENTATION_SCOPE = "herald";

export interface Telemetry {
  meter: Meter;
  tracer: Tracer;
  /** Every metric now, in Prometheus' text exposition format. */
  prometheusText(): Promise<string>;
  /** Flushes what is buffered (Azure Monitor export) and stops. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Tests pass a provider with an in-memory exporter; otherwise the global one (Azure Monitor's, or a no-op). */
  tracerProvider?: TracerProvider;
}

/** Metrics for this process only, read at /api/metrics; traces go wherever the global provider sends them. */
export function createLocalTelemetry(options: TelemetryOptions = {}): Telemetry {
  const prometheus = prometheusReader();
  const provider = new MeterProvider({ readers: [prometheus] });
  return {
    meter: provider.getMeter(INSTRUMENTATION_SCOPE),
    tracer: (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE),
    prometheusText: () => serialize(prometheus),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * For the process (src/index.ts): with a connection string, Azure Monitor's distro becomes the global
 * OpenTelemetry (traces, metrics, HTTP and Azure SDK instrumentation) and the Prometheus reader joins its meter
 * provider, so /api/metrics and Application Insights show the same numbers. Without one, local telemetry.
 */
export function startTelemetry(config: HeraldConfig, logger: Logger): Telemetry {
  if (!config.telemetry.connectionString) return createLocalTelemetry();
  const prometheus = prometheusReader();
  // Loaded only here: the distro and its instrumentations are large, and local runs never need them.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startAzureMonitor } = require("./azure-monitor") as typeof import("./azure-monitor");
  const azure = startAzureMonitor({ ...config.telemetry, connectionString: config.telemetry.connectionString }, [prometheus], logger);
  logger.info({ identity: config.telemetry.managedIdentityClientId ? "managed identity" : "connection string key" }, "telemetry exported to Azure Monitor");
  return {
    meter: metrics.getMeter(INSTRUMENTATION_SCOPE),
    tracer: trace.getTracer(INSTRUMENTATION_SCOPE),
    prometheusText: () => serialize(prometheus),
    // A final flush to an unreachable Application Insights would otherwise hold a graceful stop for ~20 s.
    shutdown: () => Promise.race([azure.shutdown(), new Promise<void>((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref())]),
  };
}

const FLUSH_TIMEOUT_MS = 3000;

function prometheusReader(): PrometheusExporter {
  // No server of its own: Herald serves the text at /api/metrics, behind the API's authentication.
  return new PrometheusExporter({ preventServerStart: true });
}

const serializer = new PrometheusSerializer(undefined, false);

async function serialize(reader: PrometheusExporter): Promise<string> {
  const { resourceMetrics } = await reader.collect();
  return serializer.serialize(resourceMetrics);
}
