/**
 * Azure Monitor's OpenTelemetry distro, started once per process (it registers the global providers): traces
 * (HTTP requests and dependencies, Azure SDK calls, Herald's own spans) and metrics (Herald's instruments plus App Insights' standard metrics) go to the
 * Application Insights resource of the connection string. In Azure the Web App's managed identity signs in
 * (the resource accepts Entra ID only); locally the connection string's key does.
 */
import { ManagedIdentityCredential } from "@azure/identity";
import { shutdownAzureMonitor, useAzureMonitor } from "@azure/monitor-opentelemetry";
import type { MetricReader } from "@opentelemetry/sdk-metrics";
import type { IncomingMessage, RequestOptions } from "node:http";
import type { Logger } from "../logger";

/** Probes and scrapes (request-spans.ts skips them too): every minute on every instance, only noise and cost. */
const UNTRACED_PATHS = ["/api/health", "/api/metrics"];

export function startAzureMonitor(
  options: { connectionString: string; managedIdentityClientId?: string },
  metricReaders: MetricReader[],
  logger: Logger,
): { shutdown(): Promise<void> } {
  survivesIngestionOutages(logger);
  useAzureMonitor({
    azureMonitorExporterOptions: {
      connectionString: options.connectionString,
      ...(options.managedIdentityClientId ? { credential: new ManagedIdentityCredential({ clientId: options.managedIdentityClientId }) } : {}),
    },
    metricReaders,
    // Live Metrics keeps a connection of its own open from every instance; the workbook and the alerts read the
    // stored telemetry instead.
    enableLiveMetrics: false,
    instrumentationOptions: {
      http: {
        enabled: true,
        ignoreIncomingRequestHook: (request: IncomingMessage) => UNTRACED_PATHS.some((path) => request.url?.startsWith(path)),
        // Bot Connector calls are traced by Herald itself, with tenant, job, delivery and attempt
        // (telemetry/delivery-spans.ts); a second, bare span per send would double every dependency.
        ignoreOutgoingRequestHook: (request: RequestOptions) => String(request.path ?? "").includes("/v3/conversations"),
      } as object,
      azureSdk: { enabled: true },
      mongoDb: { enabled: false },
      mySql: { enabled: false },
      postgreSql: { enabled: false },
      redis: { enabled: false },
      redis4: { enabled: false },
    },
  });
  return { shutdown: () => shutdownAzureMonitor() };
}

/**
 * When Application Insights cannot be reached (refused, reset, TLS failure), the exporter (1.0.0-beta.41) leaves a
 * rejected promise unhandled, which would end the process: Herald must keep delivering while its telemetry is down.
 * Only those rejections are absorbed (and logged); any other unhandled rejection still ends the process.
 */
function survivesIngestionOutages(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    const url = (reason as { name?: string; request?: { url?: string } } | undefined)?.request?.url ?? "";
    if ((reason as Error)?.name === "RestError" && /\/v2(\.1)?\/track|QuickPulseService/.test(url)) {
      logger.warn({ err: reason, url }, "telemetry: Application Insights could not be reached; continuing without this batch");
      return;
    }
    throw reason;
  });
}
