/**
 * Validates Microsoft Entra ID access tokens (v1 and v2) for Herald's callers: people signed in through Teams SSO
 * (delegated tokens with `scp`) and applications (app-only tokens with `roles`). Signature against the keys the
 * OpenID metadata names (the tenant JWKS), issuer, audience, expiry / not-before with a small clock tolerance, and
 * tenant. `jose` does the cryptography and the key-set caching (refetched when an unknown `kid` appears).
 *
 * Errors are `TokenRejectedError` with a stable `reason`; messages never contain the token or its claims' values
 * beyond the tenant id.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";

export type TokenRejectedReason =
  | "missing_token"
  | "malformed"
  | "algorithm_not_allowed"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_audience"
  | "wrong_issuer"
  | "tenant_not_allowed"
  | "missing_claim"
  /** The metadata or key set could not be fetched: the caller may answer 503 rather than 401. */
  | "keys_unavailable";

export class TokenRejectedError extends Error {
  override readonly name = "TokenRejectedError";
  constructor(readonly reason: TokenRejectedReason, message: string) {
    super(message);
  }
}

/** Who called, as the token says. `oid` + `tid` identify a person (or an application's service principal). */
export interface EntraPrincipal {
  oid: string;
  tid: string;
  /** The calling client application (v2 `azp`, v1 `appid`). */
  appId?: string;
  name?: string;
  /** v1 `upn`, v2 `preferred_username` (lower-cased). */
  upn?: string;
  /** App roles assigned to the user or application (`roles`). */
  roles: string[];
  /** Delegated scopes (`scp`, space-separated in the token). Empty for app-only tokens. */
  scopes: string[];
  /** True for an app-only token (client credentials): no signed-in user. */
  isApp: boolean;
}

export interface EntraTokenOptions {
  /** Accepted `aud` values, e.g. `api://herald.example.com/<client id>` and the client id itself. */
  audiences: string[];
  /** Only these tenants are accepted; absent or empty = any tenant (multi-tenant app). */
  allowedTenants?: string[];
  /** Entra authority host: "login.microsoftonline.com" (default), or a sovereign cloud's. v2 issuers use it. */
  authorityHost?: string;
  /** Host of v1 issuers; defaults from the authority host ("sts.windows.net" for the public cloud). */
  v1IssuerHost?: string;
  /** OpenID metadata naming the key set (`jwks_uri`). Default: https://<authority>/common/v2.0/.well-known/openid-configuration */
  openIdMetadataUrl?: string;
  /** Leeway for exp/nbf, seconds (default 60). */
  clockToleranceSeconds?: number;
  /** Timeout for metadata and key requests, ms (default 5000). */
  timeoutMs?: number;
  /** The clock (tests use sinon's). */
  now?: () => Date;
}

export const DEFAULT_AUTHORITY_HOST = "login.microsoftonline.com";

/** v1 tokens name a different host than the authority ("sts.windows.net" in the public cloud). */
const V1_ISSUER_HOSTS: Record<string, string> = {
  "login.microsoftonline.com": "sts.windows.net",
  "login.microsoftonline.us": "sts.windows.net",
  "login.chinacloudapi.cn": "sts.chinacloudapi.cn",
};

const ALGORITHMS = ["RS256"];

export class EntraTokenValidator {
  private readonly authorityHost: string;
  private readonly v1IssuerHost: string;
  private readonly metadataUrl: URL;
  private readonly allowedTenants: Set<string>;
  private keys?: Promise<JWTVerifyGetKey>;

  constructor(private readonly options: EntraTokenOptions) {
    if (options.audiences.length === 0) throw new Error("EntraTokenValidator needs at least one audience");
    this.authorityHost = (options.authorityHost ?? DEFAULT_AUTHORITY_HOST).replace(/^https:\/\//, "").replace(/\/+$/, "").toLowerCase();
    this.v1IssuerHost = options.v1IssuerHost ?? V1_ISSUER_HOSTS[this.authorityHost] ?? this.authorityHost;
    this.metadataUrl = secureUrl(options.openIdMetadataUrl ?? `https://${this.authorityHost}/common/v2.0/.well-known/openid-configuration`, "openIdMetadataUrl");
    this.allowedTenants = new Set((options.allowedTenants ?? []).map((t) => t.toLowerCase()));
  }

  /** Validates `token` and returns its principal, or throws TokenRejectedError. */
  async validate(token: string | undefined): Promise<EntraPrincipal> {
    if (!token) throw new TokenRejectedError("missing_token", "no bearer token was presented");
    if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new TokenRejectedError("malformed", "the bearer token is not a JWT");
    const keys = await this.keySet();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        audience: this.options.audiences,
        algorithms: ALGORITHMS,
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        requiredClaims: ["exp", "iss", "aud"],
        ...(this.options.now ? { currentDate: this.options.now() } : {}),
      }));
    } catch (error) {
      throw rejection(error);
    }
    return this.principalOf(payload);
  }

  private principalOf(payload: JWTPayload): EntraPrincipal {
    const claim = (name: string) => (typeof payload[name] === "string" && payload[name] ? (payload[name] as string) : undefined);
    const tid = claim("tid")?.toLowerCase();
    if (!tid) throw new TokenRejectedError("missing_claim", "the token has no tid (tenant) claim");
    const issuers = [`https://${this.v1IssuerHost}/${tid}/`, `https://${this.authorityHost}/${tid}/v2.0`];
    if (!issuers.includes(String(payload.iss).toLowerCase())) {
      throw new TokenRejectedError("wrong_issuer", `the token was not issued by Entra ID for tenant ${tid}`);
    }
    if (this.allowedTenants.size > 0 && !this.allowedTenants.has(tid)) {
      throw new TokenRejectedError("tenant_not_allowed", `tenant ${tid} is not allowed to call Herald`);
    }
    const oid = claim("oid");
    if (!oid) throw new TokenRejectedError("missing_claim", "the token has no oid (object id) claim");
    const scopes = (claim("scp") ?? "").split(" ").filter(Boolean);
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
    const upn = claim("upn") ?? claim("preferred_username");
    const appId = claim("azp") ?? claim("appid");
    const name = claim("name");
    return {
      oid,
      tid,
      ...(appId ? { appId } : {}),
      ...(name ? { name } : {}),
      ...(upn ? { upn: upn.toLowerCase() } : {}),
      roles,
      scopes,
      // `idtyp` is an optional claim; without it an app-only token is one with no scopes whose subject is the app.
      isApp: payload.idtyp === "app" || (scopes.length === 0 && payload.sub === oid),
    };
  }

  /** The key set named by the metadata, fetched once; a failed fetch is retried on the next call. */
  private keySet(): Promise<JWTVerifyGetKey> {
    this.keys ??= this.loadKeySet().catch((error: unknown) => {
      this.keys = undefined;
      throw error;
    });
    return this.keys;
  }

  private async loadKeySet(): Promise<JWTVerifyGetKey> {
    const timeoutMs = this.options.timeoutMs ?? 5000;
    let jwksUri: unknown;
    try {
      const res = await fetch(this.metadataUrl, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      jwksUri = ((await res.json()) as { jwks_uri?: unknown }).jwks_uri;
    } catch (error) {
      throw new TokenRejectedError("keys_unavailable", `Entra ID's OpenID metadata (${this.metadataUrl.origin}) could not be read: ${(error as Error).message}`);
    }
    if (typeof jwksUri !== "string") throw new TokenRejectedError("keys_unavailable", "Entra ID's OpenID metadata names no jwks_uri");
    return createRemoteJWKSet(secureUrl(jwksUri, "jwks_uri"), { timeoutDuration: timeoutMs });
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value ?? "");
  return match?.[1];
}

/** Keys must come over TLS; plain http only to loopback (tests, local development). */
function secureUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what} is not a URL: ${value}`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`${what} must be an https URL (got ${url.origin})`);
  }
  return url;
}

/** Maps jose's errors (by their stable `code`) to Herald's reasons, without echoing the token. */
function rejection(error: unknown): TokenRejectedError {
  if (error instanceof TokenRejectedError) return error;
  const { code, claim } = error as { code?: string; claim?: string };
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return new TokenRejectedError("expired", "the token has expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (claim === "nbf") return new TokenRejectedError("not_yet_valid", "the token is not valid yet");
      if (claim === "aud") return new TokenRejectedError("wrong_audience", "the token is not meant for Herald (audience)");
      if (claim === "iat") return new TokenRejectedError("malformed", "the token's issued-at time is invalid");
      return new TokenRejectedError("missing_claim", `the token's ${claim ?? "claims"} claim is missing or invalid`);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return new TokenRejectedError("algorithm_not_allowed", `only ${ALGORITHMS.join(", ")} signed tokens are accepted`);
    case "ERR_JWKS_NO_MATCHING_KEY":
      return new TokenRejectedError("unknown_key", "the token was signed by a key Entra ID does not publish");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new TokenRejectedError("bad_signature", "the token's signature does not verify");
    case "ERR_JWKS_TIMEOUT":
    case "ERR_JWKS_INVALID":
      return new TokenRejectedError("keys_unavailable", "Entra ID's signing keys could not be read");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_NOT_SUPPORTED":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return new TokenRejectedError("malformed", "the token is not a valid signed JWT");
    default:
      // jose's other errors are about the token; errors without a jose code are network failures fetching keys.
      if (typeof code === "string" && code.startsWith("ERR_J")) return new TokenRejectedError("malformed", "the token is not a valid signed JWT");
      return new TokenRejectedError("keys_unavailable", "Entra ID's signing keys could not be read");
  }
}
