/**
 * The operator commands' way into Herald: its HTTP API (HERALD_URL, HERALD_API_KEY). In Azure several instances
 * share the work; the API answers for all of them from the shared store, and needs only the API key — not access
 * to the storage account from the operator's machine.
 */
import type { CliConfig } from "../config";

export class ApiCallError extends Error {
  override readonly name = "ApiCallError";
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface NotificationReport {
  id: string;
  status: "queued" | "running" | "completed" | "failed" | "cancelled";
  title: string;
  triggeredBy: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  counts: { total: number; sent: number; failed: number; gone: number; skipped: number; pending: number; cancelled: number; throttleRetries: number };
  error?: string;
}

export class HeraldApiClient {
  constructor(private readonly config: CliConfig, private readonly fetchImpl: typeof fetch = fetch) {}

  async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.config.url}${path}`, {
        headers: { accept: "application/json", ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}) },
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      const detail = (error as { cause?: { code?: string; message?: string } }).cause;
      const cause = detail?.code ?? detail?.message ?? (error as Error).message;
      throw new ApiCallError(`cannot reach Herald at ${this.config.url} (HERALD_URL): ${cause}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiCallError(`${this.config.url}${path} answered ${res.status} with something that is not Herald's JSON`, res.status);
    }
    if (!res.ok) {
      const error = (body as { error?: { code?: string; message?: string } }).error;
      const hint = res.status === 401 ? " (set HERALD_API_KEY to the API key of that Herald)" : "";
      throw new ApiCallError(`${error?.message ?? `HTTP ${res.status}`}${hint}`, res.status);
    }
    return body as T;
  }

  notification(id: string): Promise<NotificationReport> {
    return this.get(`/api/notifications/${encodeURIComponent(id)}`);
  }

  notifications(limit: number): Promise<{ items: NotificationReport[] }> {
    return this.get(`/api/notifications?limit=${limit}`);
  }
}
