import type { Server } from "restify";
import type { RouteHandler } from "./route";

/** GET /api/metrics: Herald's metrics in Prometheus' text format, behind the API's authentication. */
export function registerMetricsRoute(server: Server, handle: RouteHandler, metricsText: () => Promise<string>): void {
  server.get("/api/metrics", handle(async (_req, res) => {
    const text = await metricsText();
    res.status(200);
    res.setHeader("content-type", "text/plain; version=0.0.4; charset=utf-8");
    res.setHeader("cache-control", "no-store");
    res.end(text);
  }));
}
