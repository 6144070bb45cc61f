import type { Response } from "restify";

/** An HTTP error with a stable machine code; the body is always `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  /** Sent as Retry-After (429, 503). */
  retryAfterSeconds?: number;
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export const badRequest = (field: string, message: string) =>
  new ApiError(400, "invalid_request", field === "(body)" ? message : `${field}: ${message}`);
export const notFound = (what: string) => new ApiError(404, "not_found", `${what} was not found`);

export function sendError(res: Response, error: ApiError): void {
  res.status(error.status);
  res.setHeader("content-type", "application/json; charset=utf-8");
  if (error.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(error.retryAfterSeconds));
  res.end(JSON.stringify({ error: { code: error.code, message: error.message } }));
}

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status);
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(body));
}
