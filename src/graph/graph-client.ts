/**
 * A minimal Microsoft Graph HTTP client: app-only bearer token from a TokenCredential (cached until it is
 * due for refresh), JSON in and out, bounded retries of transient answers, a timeout per attempt, and typed
 * errors that carry Graph's status, error code and request id. Only what Herald's proactive install needs.
 */
import { randomUUID } from "node:crypto";
import type { AccessToken, TokenCredential } from "@azure/identity";
import type { Logger } from "../logger";

/** Graph's public root: used for the token scope and in `@odata.bind` URLs. */
export const GRAPH_RESOURCE = "https://graph.microsoft.com";

export interface RetryPolicy {
  /** Total attempts per request, first one included. */
  maxAttempts: number;
  /** First backoff step; doubles per attempt. */
  baseDelayMs: number;
  /** Ceiling of one exponential backoff step. */
  maxDelayMs: number;
  /** Ceiling for a server's Retry-After (a longer ask is shortened to this). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

export interface GraphClientOptions {
  credential: TokenCredential;
  logger: Logger;
  /** Where requests go. Default https://graph.microsoft.com; tests point it at a loopback fake. */
  baseUrl?: string;
  /** Graph's public root for the scope and `@odata.bind` (national clouds differ). Default https://graph.microsoft.com. */
  graphResource?: string;
  /** Per attempt, including reading the body. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Seams for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** A request Graph answered with an error, or one that never got an answer (status 0). */
export class GraphRequestError extends Error {
  override readonly name = "GraphRequestError";
  constructor(
    message: string,
    /** HTTP status; 0 when there was no answer (network, timeout, token). */
    readonly status: number,
    /** Graph's `error.code` ("NotFound", "Forbidden", ...), or Herald's: "timeout", "networkError", "authenticationFailed". */
    readonly code: string,
    /** Graph's `error.message`, verbatim. */
    readonly graphMessage: string,
    readonly method: string,
    /** Path only: never the query or host, so it is safe to log. */
    readonly path: string,
    /** Graph's `request-id` header, for Microsoft support. */
    readonly requestId?: string,
    /** How many attempts were made before giving up. */
    readonly attempts = 1,
  ) {
    super(message);
  }
}

export function isGraphRequestError(error: unknown): error is GraphRequestError {
  return error instanceof GraphRequestError;
}

export interface GraphResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface GraphPage<T> {
  value: T[];
  "@odata.nextLink"?: string;
}

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
/** Refresh a token this long before it expires, when the credential gives no refresh hint. */
const TOKEN_EXPIRY_MARGIN_MS = 2 * 60_000;

export class GraphClient {
  readonly baseUrl: string;
  readonly graphResource: string;
  readonly scope: string;
  private readonly credential: TokenCredential;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private cachedToken?: AccessToken;
  private pendingToken?: Promise<AccessToken>;

  constructor(options: GraphClientOptions) {
    this.credential = options.credential;
    this.logger = options.logger;
    this.baseUrl = trimSlash(options.baseUrl ?? GRAPH_RESOURCE);
    this.graphResource = trimSlash(options.graphResource ?? GRAPH_RESOURCE);
    this.scope = `${this.graphResource}/.default`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  get<T>(path: string, query?: Record<string, string>): Promise<GraphResponse<T>> {
    return this.request<T>("GET", path, { query });
  }

  post<T = undefined>(path: string, body: unknown): Promise<GraphResponse<T>> {
    return this.request<T>("POST", path, { body });
  }

  /** Every page of a collection, following `@odata.nextLink` (only on this client's own origin). */
  async *pages<T>(path: string, query?: Record<string, string>): AsyncGenerator<T[]> {
    let page = (await this.get<GraphPage<T>>(path, query)).body;
    yield page.value ?? [];
    while (page["@odata.nextLink"]) {
      const next = new URL(page["@odata.nextLink"]);
      // The token goes wherever the link points: refuse to send it to any other host.
      if (next.origin !== new URL(this.baseUrl).origin) {
        throw new GraphRequestError(`Graph returned a next page link on another host (${next.origin}); not following it`,
          0, "unexpectedNextLink", "", "GET", path);
      }
      page = (await this.request<GraphPage<T>>("GET", next.pathname + next.search, { rawPathAndQuery: true })).body;
      yield page.value ?? [];
    }
  }

  /**
   * One Graph call with retries. 2xx resolves; anything else throws GraphRequestError.
   * `path` starts with the version: "/v1.0/users/...". Query values are encoded here.
   */
  async request<T>(method: string, path: string, options: { query?: Record<string, string>; body?: unknown; rawPathAndQuery?: boolean } = {}): Promise<GraphResponse<T>> {
    const url = this.baseUrl + (options.rawPathAndQuery ? path : path + encodeQuery(options.query));
    const logPath = path.split("?")[0]!;
    let refreshedAfter401 = false;
    for (let attempt = 1; ; attempt++) {
      let outcome: Attempt<T>;
      try {
        outcome = await this.attempt<T>(method, url, logPath, options.body);
      } catch (error) {
        if (isGraphRequestError(error) && error.code === "authenticationFailed") throw error;
        // No answer at all (connection refused/reset, timeout): as transient as a 503.
        const failure = toNetworkError(error, method, logPath, this.timeoutMs, attempt);
        if (attempt >= this.retry.maxAttempts) throw failure;
        const delay = this.backoff(attempt);
        this.logger.warn({ method, path: logPath, attempt, delayMs: delay, code: failure.code }, "Graph request got no answer; retrying");
        await this.sleep(delay);
        continue;
      }
      if (outcome.ok) return outcome.response;
      const error = outcome.error;
      if (error.status === 401 && !refreshedAfter401) {
        // A token can be revoked or rotated before its stated expiry: fetch a fresh one once.
        refreshedAfter401 = true;
        this.cachedToken = undefined;
        attempt--;
        continue;
      }
      if (!RETRYABLE_STATUSES.has(error.status) || attempt >= this.retry.maxAttempts) {
        throw withAttempts(error, attempt);
      }
      const retryAfterMs = parseRetryAfter(outcome.retryAfter, this.now());
      const delay = retryAfterMs !== undefined ? Math.min(retryAfterMs, this.retry.maxRetryAfterMs) : this.backoff(attempt);
      this.logger.warn({ method, path: logPath, status: error.status, attempt, delayMs: delay, retryAfter: outcome.retryAfter ?? null, requestId: error.requestId },
        "Graph answered with a transient error; retrying");
      await this.sleep(delay);
    }
  }

  /** Exponential backoff with jitter: half fixed, half random, so retries of many callers spread out. */
  private backoff(attempt: number): number {
    const step = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  private async attempt<T>(method: string, url: string, logPath: string, body: unknown): Promise<Attempt<T>> {
    const token = await this.token(method, logPath);
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      "client-request-id": randomUUID(),
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutError()), this.timeoutMs);
    try {
      const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: controller.signal });
      const text = await response.text();
      const requestId = response.headers.get("request-id") ?? undefined;
      this.logger.debug({ method, path: logPath, status: response.status, requestId }, "Graph request");
      if (response.ok) {
        return { ok: true, response: { status: response.status, body: parseJson(text) as T, headers: response.headers } };
      }
      const graphError = (parseJson(text) as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof graphError?.code === "string" && graphError.code ? graphError.code : `http${response.status}`;
      const graphMessage = typeof graphError?.message === "string" ? graphError.message : "";
      const message = `Graph ${method} ${logPath} failed: ${response.status} ${code}${graphMessage ? ` (${graphMessage})` : ""}` +
        (requestId ? ` [request-id ${requestId}]` : "");
      return {
        ok: false,
        error: new GraphRequestError(message, response.status, code, graphMessage, method, logPath, requestId),
        retryAfter: response.headers.get("retry-after") ?? undefined,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The cached token, or a fresh one; concurrent callers share one credential call. */
  private async token(method: string, logPath: string): Promise<string> {
    const cached = this.cachedToken;
    if (cached && this.now() < (cached.refreshAfterTimestamp ?? cached.expiresOnTimestamp - TOKEN_EXPIRY_MARGIN_MS)) {
      return cached.token;
    }
    this.pendingToken ??= this.fetchToken().finally(() => { this.pendingToken = undefined; });
    try {
      return (await this.pendingToken).token;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new GraphRequestError(`Could not get a Microsoft Graph token for ${this.scope}: ${reason}`, 0, "authenticationFailed", reason, method, logPath);
    }
  }

  private async fetchToken(): Promise<AccessToken> {
    const token = await this.credential.getToken(this.scope);
    if (!token?.token) throw new Error("the credential returned no token");
    this.cachedToken = token;
    return token;
  }
}

type Attempt<T> =
  | { ok: true; response: GraphResponse<T> }
  | { ok: false; error: GraphRequestError; retryAfter?: string };

class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}

function toNetworkError(error: unknown, method: string, path: string, timeoutMs: number, attempt: number): GraphRequestError {
  const timedOut = error instanceof TimeoutError || (error instanceof Error && error.name === "TimeoutError");
  if (timedOut) {
    return new GraphRequestError(`Graph ${method} ${path} timed out after ${timeoutMs} ms`, 0, "timeout", "", method, path, undefined, attempt);
  }
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  return new GraphRequestError(`Graph ${method} ${path} got no answer: ${cause}`, 0, "networkError", "", method, path, undefined, attempt);
}

function withAttempts(error: GraphRequestError, attempts: number): GraphRequestError {
  if (attempts === 1) return error;
  return new GraphRequestError(`${error.message} after ${attempts} attempts`, error.status, error.code, error.graphMessage,
    error.method, error.path, error.requestId, attempts);
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** OData wants `$filter=...` with the `$` literal and values percent-encoded (spaces as %20, not +). */
function encodeQuery(query: Record<string, string> | undefined): string {
  if (!query) return "";
  const parts = Object.entries(query).map(([key, value]) => `${encodeURIComponent(key).replace(/^%24/, "$")}=${encodeURIComponent(value)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
