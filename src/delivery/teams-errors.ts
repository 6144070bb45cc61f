/**
 * What a failed Bot Connector call means for a delivery, decided by HTTP status and Teams error code — never by
 * message text, which Microsoft rewords.
 *
 * botframework-connector throws @azure/core-rest-pipeline's RestError: `statusCode`, `code` (copied from the
 * body's `error.code` by core-client's deserializer), and a non-enumerable `response` with `headers` (HttpHeaders,
 * `.get(name)`), `parsedBody` and `bodyAsText`. A transport failure has no status and `code: "REQUEST_SEND_ERROR"`.
 *
 * The error object also carries the request (with its Authorization header): never log it; log the
 * classification instead.
 */
import type { GoneReason } from "../store/types";

export type TeamsGoneReason = Extract<GoneReason, "BotNotInConversationRoster" | "ConversationBlockedByUser" | "ConversationNotFound">;

export type TeamsFailure =
  /** 429: wait `retryAfterMs` when Teams said so, else back off exponentially. */
  | { outcome: "throttled"; retryAfterMs?: number; code?: string }
  /** 412, 502, 503, 504, or no HTTP answer at all (status 0): retry with backoff, bounded. */
  | { outcome: "transient"; status: number; code?: string; message: string }
  /** The conversation is unusable for good: stop, record why, prune the target. */
  | { outcome: "gone"; reason: TeamsGoneReason; status: number }
  /** Anything else: not retried. */
  | { outcome: "failed"; status?: number; code?: string; message: string };

const RETRIABLE_STATUSES = new Set([412, 502, 503, 504]);

/** Status → the code Teams uses for "this target is gone", per Microsoft's proactive-messaging docs. */
const GONE: ReadonlyArray<{ status: number; code: TeamsGoneReason }> = [
  { status: 403, code: "BotNotInConversationRoster" },
  { status: 403, code: "ConversationBlockedByUser" },
  { status: 404, code: "ConversationNotFound" },
];

export function classifyTeamsError(error: unknown): TeamsFailure {
  const status = statusOf(error);
  const code = codeOf(error);
  const message = safeMessage(error);

  if (status === undefined) {
    // No HTTP answer: connection refused/reset, DNS, timeout. A reset after the body left may have been
    // delivered (the same at-least-once window as a 5xx); refused/DNS never reached Teams. Retry, bounded.
    if (isTransportError(error)) return { outcome: "transient", status: 0, code, message };
    return { outcome: "failed", code, message };
  }
  if (status === 429) return { outcome: "throttled", retryAfterMs: retryAfterMsOf(error), code };
  const gone = GONE.find((g) => g.status === status && g.code === code);
  if (gone) return { outcome: "gone", reason: gone.code, status };
  if (RETRIABLE_STATUSES.has(status)) return { outcome: "transient", status, code, message };
  return { outcome: "failed", status, code, message };
}

/** "503 ServiceUnavailable: ..." — for a delivery's `reason` and for logs. */
export function describeFailure(failure: TeamsFailure): string {
  switch (failure.outcome) {
    case "throttled":
      return `429 throttled${failure.retryAfterMs !== undefined ? ` (Retry-After ${failure.retryAfterMs} ms)` : ""}`;
    case "gone":
      return `${failure.status} ${failure.reason}`;
    case "transient":
    case "failed": {
      const head = [failure.status ? String(failure.status) : failure.outcome === "transient" ? "no response" : undefined, failure.code]
        .filter(Boolean)
        .join(" ");
      return head ? `${head}: ${failure.message}` : failure.message;
    }
  }
}

// ------------------------------------------------------------------------------------------------ parsing

interface ErrorLike {
  statusCode?: unknown;
  status?: unknown;
  code?: unknown;
  name?: unknown;
  message?: unknown;
  response?: { status?: unknown; headers?: unknown; parsedBody?: unknown; bodyAsText?: unknown };
}

function asErrorLike(error: unknown): ErrorLike {
  return error !== null && typeof error === "object" ? (error as ErrorLike) : {};
}

function statusOf(error: unknown): number | undefined {
  const e = asErrorLike(error);
  for (const candidate of [e.statusCode, e.response?.status, e.status]) {
    if (typeof candidate === "number" && candidate >= 100 && candidate < 600) return candidate;
  }
  return undefined;
}

/** Teams' `error.code` from the body (core-client copies it to `error.code`; older paths leave it in the body). */
function codeOf(error: unknown): string | undefined {
  const e = asErrorLike(error);
  const fromBody = bodyErrorCode(e.response?.parsedBody) ?? bodyErrorCode(parseJson(e.response?.bodyAsText));
  if (fromBody) return fromBody;
  return typeof e.code === "string" && e.code !== "REQUEST_SEND_ERROR" ? e.code : undefined;
}

function bodyErrorCode(body: unknown): string | undefined {
  if (body === null || typeof body !== "object") return undefined;
  const inner = (body as { error?: unknown }).error;
  const code = inner && typeof inner === "object" ? (inner as { code?: unknown }).code : (body as { code?: unknown }).code;
  return typeof code === "string" && code ? code : undefined;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || !text.startsWith("{")) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isTransportError(error: unknown): boolean {
  const e = asErrorLike(error);
  if (e.code === "REQUEST_SEND_ERROR" || e.name === "AbortError") return true;
  return typeof e.code === "string" && /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/.test(e.code);
}

/** `Retry-After` as seconds (fractions allowed) or an HTTP date; `retry-after-ms` / `x-ms-retry-after-ms` first. */
export function retryAfterMsOf(error: unknown, now: number = Date.now()): number | undefined {
  const headers = asErrorLike(error).response?.headers;
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const ms = Number(headerValue(headers, name));
    if (headerValue(headers, name) !== undefined && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms);
  }
  const raw = headerValue(headers, "retry-after");
  if (raw === undefined || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const getter = (headers as { get?: unknown }).get;
  if (typeof getter === "function") {
    const value = getter.call(headers, name);
    return typeof value === "string" ? value : undefined;
  }
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? String(value[0]) : typeof value === "string" ? value : undefined;
  }
  return undefined;
}

/** The error's message, cut short; RestError messages are the response body, which carries no secrets. */
function safeMessage(error: unknown): string {
  const message = asErrorLike(error).message;
  const text = typeof message === "string" && message ? message : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
