/**
 * Checks the Bot Framework token on an incoming activity and says why it failed in HTTP terms.
 *
 * botbuilder reports its own checks as AuthenticationError (401), but lets jsonwebtoken's errors (bad signature,
 * `nbf` in the future, `alg: none`, a wrong algorithm) and network errors fetching the OpenID metadata escape as
 * plain errors, which CloudAdapter answers with 500. Here: anything about the token is 401; metadata or keys that
 * cannot be fetched are 503 with Retry-After (Teams retries, and a forged token is still never accepted).
 */
import type { Activity } from "botbuilder";
import type { AuthenticateRequestResult } from "botframework-connector";

export type InboundAuthFailure =
  | { status: 401; reason: string }
  | { status: 503; reason: string; retryAfterSeconds: number };

export class InboundAuthError extends Error {
  override readonly name = "InboundAuthError";
  constructor(readonly failure: InboundAuthFailure) {
    super(failure.reason);
  }
}

/** The errors jsonwebtoken throws about a token (TokenExpiredError and NotBeforeError extend JsonWebTokenError). */
const TOKEN_ERRORS = new Set(["JsonWebTokenError", "TokenExpiredError", "NotBeforeError"]);
/** Network-level error codes of node-fetch / undici while fetching the OpenID metadata or the key set. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "UND_ERR_CONNECT_TIMEOUT"]);

export const KEYS_RETRY_AFTER_SECONDS = 10;

export function classifyAuthFailure(error: unknown): InboundAuthFailure {
  const err = (error ?? {}) as { name?: string; message?: string; statusCode?: number; code?: string; type?: string; cause?: { code?: string } };
  const reason = `${err.name ?? "Error"}: ${err.message ?? String(error)}`;
  if (err.name === "KeysTimeout" || err.name === "FetchError" || NETWORK_CODES.has(err.code ?? "") || NETWORK_CODES.has(err.cause?.code ?? "")) {
    return { status: 503, reason, retryAfterSeconds: KEYS_RETRY_AFTER_SECONDS };
  }
  // botframework-connector's AuthenticationError: 401 about the token, 500 for "Failed to load openID config / Keys".
  if (typeof err.statusCode === "number" && err.statusCode >= 500) {
    return { status: 503, reason, retryAfterSeconds: KEYS_RETRY_AFTER_SECONDS };
  }
  // The rest — AuthenticationError 401, jsonwebtoken's errors (TOKEN_ERRORS), anything unforeseen — fails closed as
  // "not authenticated"; the reason in the log says which it was.
  return { status: 401, reason: TOKEN_ERRORS.has(err.name ?? "") ? `token: ${reason}` : reason };
}

/**
 * Authenticates with botbuilder, bounded in time: a metadata endpoint that never answers must not hold the request
 * until Teams gives up. Throws InboundAuthError.
 */
export async function authenticateInbound(
  authenticate: (activity: Activity, authHeader: string) => Promise<AuthenticateRequestResult>,
  activity: Activity,
  authHeader: string,
  timeoutMs = 10_000,
): Promise<AuthenticateRequestResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the OpenID metadata within ${timeoutMs} ms`), { name: "KeysTimeout" })), timeoutMs);
  });
  try {
    return await Promise.race([authenticate(activity, authHeader), timeout]);
  } catch (error) {
    throw new InboundAuthError(classifyAuthFailure(error));
  } finally {
    clearTimeout(timer);
  }
}
