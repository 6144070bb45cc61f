import { createHash, timingSafeEqual } from "node:crypto";
import type { Request } from "restify";
import type { EntraPrincipal } from "../auth/entra-token";
import type { NamedApiKey } from "../config";
import { ApiError } from "./errors";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** The app role an Entra ID caller needs (assigned to a managed identity or an app on Herald's app registration). */
export const SEND_ROLE = "Notifications.Send";

/** Who is calling: recorded as a notification's `createdBy` and used as the rate-limit key. */
export interface Caller {
  /** "key:<name>", "app:<client id>", "user:<object id>", or "local". */
  id: string;
}

/** Validates an Entra ID access token (src/auth/entra-token.ts); throws TokenRejectedError. */
export type EntraValidate = (token: string) => Promise<EntraPrincipal>;

export interface ApiAuthOptions {
  keys: readonly NamedApiKey[];
  /** Absent: Entra ID tokens are not accepted. */
  entra?: EntraValidate;
}

/**
 * `Authorization: Bearer <key>` with one of the named keys (each compared in constant time, all of them every
 * time, on SHA-256 digests so length does not leak either), or `Bearer <Entra ID access token>` carrying the app
 * role Notifications.Send. With neither configured (local only — config refuses it when BOT_ID is set):
 * loopback callers only.
 */
export function createApiAuth(options: ApiAuthOptions): (req: Request) => Promise<Caller> {
  if (options.keys.length === 0 && !options.entra) {
    return async (req) => {
      if (!LOOPBACK.has(req.socket.remoteAddress ?? "")) {
        throw new ApiError(401, "unauthorized", "HERALD_API_KEY is not set, so only loopback callers are accepted");
      }
      return { id: "local" };
    };
  }
  const digests = options.keys.map((k) => ({ name: k.name, digest: sha256(k.key) }));
  return async (req) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ""));
    if (!match) throw unauthorized(options);
    const presented = sha256(match[1]!);
    let keyName: string | undefined;
    for (const { name, digest } of digests) {
      if (timingSafeEqual(presented, digest) && keyName === undefined) keyName = name;
    }
    if (keyName !== undefined) return { id: `key:${keyName}` };
    if (options.entra && looksLikeJwt(match[1]!)) return entraCaller(options.entra, match[1]!);
    throw unauthorized(options);
  };
}

async function entraCaller(validate: EntraValidate, token: string): Promise<Caller> {
  let principal: EntraPrincipal;
  try {
    principal = await validate(token);
  } catch (error) {
    const reason = (error as { reason?: string }).reason;
    if (reason === "keys_unavailable") {
      const unavailable = new ApiError(503, "auth_unavailable", "Entra ID's signing keys could not be fetched; retry later");
      unavailable.retryAfterSeconds = 10;
      throw unavailable;
    }
    throw new ApiError(401, "unauthorized", `the Entra ID token was rejected (${reason ?? "invalid"})`);
  }
  if (!principal.roles.includes(SEND_ROLE)) {
    throw new ApiError(403, "forbidden", `the token does not carry the app role ${SEND_ROLE}`);
  }
  return { id: principal.isApp ? `app:${principal.appId ?? principal.oid}` : `user:${principal.oid}` };
}

function unauthorized(options: ApiAuthOptions): ApiError {
  const how = options.entra ? "an API key or an Entra ID token with the app role " + SEND_ROLE : "an API key";
  return new ApiError(401, "unauthorized", `missing or wrong bearer token (Authorization: Bearer <${how}>)`);
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}
