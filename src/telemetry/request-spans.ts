/**
 * Spans for what reaches Herald over HTTP: each API request (named by its route, with the status it answered)
 * and each bot turn (the activity Teams posted to /api/messages). In Azure they sit under the HTTP server span
 * of Azure Monitor's instrumentation, which is what Application Insights' "requests" (and the 5xx alert) count.
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { TurnContext } from "botbuilder";
import type { Request, Response, Server } from "restify";

const BOT_ENDPOINT = "/api/messages";
/** Probes and scrapes come every minute from every instance's platform; as traces they are noise and cost. */
const UNTRACED = ["/api/health", "/api/metrics"];

/** One span per /api/* request except the bot endpoint and probes, ended when the answer has been written. */
export function traceApiRequests(server: Server, tracer: Tracer): void {
  server.pre((req: Request, res: Response, next: () => void) => {
    const path = (req.url ?? "").split("?")[0];
    if (!path.startsWith("/api/") || path === BOT_ENDPOINT || UNTRACED.some((prefix) => path.startsWith(prefix))) return next();
    const span = tracer.startSpan(`${req.method} ${path}`, {
      kind: SpanKind.INTERNAL,
      attributes: { "http.request.method": req.method ?? "", "url.path": path },
    });
    res.once("finish", () => {
      const route = req.getRoute?.()?.path;
      if (route) {
        span.updateName(`${req.method} ${String(route)}`);
        span.setAttribute("http.route", String(route));
      }
      endWithStatus(span, res.statusCode);
    });
    return context.with(trace.setSpan(context.active(), span), next);
  });
}

/** Wraps the bot's turn logic: one span per activity Teams sent, with its type and where it came from. */
export function traceBotTurns(tracer: Tracer, logic: (context: TurnContext) => Promise<void>): (context: TurnContext) => Promise<void> {
  return (context) => {
    const activity = context.activity;
    return tracer.startActiveSpan(`bot ${activity.type ?? "activity"}`, {
      kind: SpanKind.INTERNAL,
      attributes: {
        "herald.activity.type": activity.type ?? "",
        ...(activity.name ? { "herald.activity.name": activity.name } : {}),
        "herald.conversation.type": activity.conversation?.conversationType ?? "",
        "herald.tenant.id": (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? activity.conversation?.tenantId ?? "",
      },
    }, async (span) => {
      try {
        await logic(context);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

function endWithStatus(span: Span, status: number): void {
  span.setAttribute("http.response.status_code", status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
