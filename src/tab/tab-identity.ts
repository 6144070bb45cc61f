/**
 * Who is calling the tab's API. Inside Teams: the Entra ID token Teams SSO gave the tab (validated on every
 * call with src/auth/entra-token.ts); the person is its oid + tid. In local mode (no BOT_ID) a loopback caller
 * may instead name a person Herald knows (`/tab/?as=<id>` → `x-herald-as`), who is then a sender, so
 * `npm run dev` works in any browser. A presented token is never ignored in favour of `as`.
 */
import type { Request } from "restify";
import { bearerToken, TokenRejectedError, type EntraTokenValidator } from "../auth/entra-token";
import { ApiError } from "../api/errors";
import type { HeraldStore } from "../store/types";

import { SENDER_ROLE, TAB_SCOPE } from "../auth/app-roles";

export { SENDER_ROLE, TAB_SCOPE };
export const LOCAL_PERSON_HEADER = "x-herald-as";

export interface TabPerson {
  oid: string;
  tid: string;
  name?: string;
  upn?: string;
  isSender: boolean;
  signedInWith: "sso" | "local";
}

export interface TabIdentityOptions {
  /** Undefined when SSO is not configured (no AAD_APP_CLIENT_ID). */
  validator?: EntraTokenValidator;
  /** Entra object ids and UPNs, lower-cased. */
  senders: string[];
  /** No BOT_ID: loopback callers may name a person. */
  localMode: boolean;
  store: Pick<HeraldStore, "members">;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export function isLoopback(req: Request): boolean {
  return LOOPBACK.has(req.socket.remoteAddress ?? "");
}

export class TabIdentity {
  private readonly senders: Set<string>;

  constructor(private readonly options: TabIdentityOptions) {
    this.senders = new Set(options.senders.map((s) => s.toLowerCase()));
  }

  get localModeAvailable(): boolean {
    return this.options.localMode;
  }

  async identify(req: Request): Promise<TabPerson> {
    const token = bearerToken(req.headers.authorization);
    if (token || req.headers.authorization) return this.fromToken(token);
    const named = req.headers[LOCAL_PERSON_HEADER];
    if (this.options.localMode && isLoopback(req) && typeof named === "string" && named.trim()) return this.localPerson(named.trim());
    throw new ApiError(401, "unauthorized", this.options.localMode
      ? "sign in through Teams, or in local mode open /tab/?as=<Entra object id or Teams user id>"
      : "a Teams sign-in token is required (Authorization: Bearer <token from authentication.getAuthToken>)");
  }

  private async fromToken(token: string | undefined): Promise<TabPerson> {
    if (!this.options.validator) {
      throw new ApiError(401, "unauthorized", "Teams sign-in is not configured on this Herald (AAD_APP_CLIENT_ID is not set)");
    }
    let principal;
    try {
      principal = await this.options.validator.validate(token);
    } catch (error) {
      if (error instanceof TokenRejectedError) {
        if (error.reason === "keys_unavailable") throw new ApiError(503, "sign_in_unavailable", "Herald cannot check sign-ins right now (Entra ID's keys are unreachable); try again");
        throw new ApiError(401, "invalid_token", `the sign-in token was rejected (${error.reason}): ${error.message}`);
      }
      throw error;
    }
    if (principal.isApp) throw new ApiError(403, "forbidden", "the tab is for people; applications call /api/notifications");
    if (!principal.scopes.includes(TAB_SCOPE)) throw new ApiError(403, "forbidden", `the token lacks the ${TAB_SCOPE} scope`);
    const isSender = principal.roles.includes(SENDER_ROLE) || this.senders.has(principal.oid.toLowerCase()) || (!!principal.upn && this.senders.has(principal.upn));
    return {
      oid: principal.oid,
      tid: principal.tid,
      ...(principal.name ? { name: principal.name } : {}),
      ...(principal.upn ? { upn: principal.upn } : {}),
      isSender,
      signedInWith: "sso",
    };
  }

  private async localPerson(id: string): Promise<TabPerson> {
    const member = (await this.options.store.members.find({ aadObjectId: id })) ?? (await this.options.store.members.find({ userId: id }));
    if (!member) {
      throw new ApiError(404, "not_found", `local mode: nobody with Entra object id or Teams user id "${id.slice(0, 100)}" is in Herald's member directory yet (install Herald in a chat first)`);
    }
    return {
      oid: member.aadObjectId ?? member.userId,
      tid: member.tenantId,
      ...(member.name ? { name: member.name } : {}),
      ...(member.upn ? { upn: member.upn } : {}),
      isSender: true,
      signedInWith: "local",
    };
  }
}
