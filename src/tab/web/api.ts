/** Calls Herald's tab API as the signed-in person; errors carry the API's code and message. */
import type { ApiErrorBody } from "../api-types";
import type { Host } from "./host";

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class Api {
  constructor(private readonly host: Host) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>("POST", path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>("PUT", path, body);
  }

  private async call<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...(await this.host.authHeaders(retried)) };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`/tab/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (res.ok) return parsed as T;
    const error = (parsed as ApiErrorBody | undefined)?.error ?? { code: "http_error", message: `HTTP ${res.status}` };
    // A token that expired in the meantime: ask Teams for a new one, once.
    if (res.status === 401 && error.code === "invalid_token" && !retried && this.host.kind === "teams") return this.call<T>(method, path, body, true);
    throw new ApiFailure(res.status, error.code, error.message);
  }
}
