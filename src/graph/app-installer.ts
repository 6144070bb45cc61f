/**
 * Proactive install of Herald for people who never installed it, following Microsoft's documented flow:
 * install in the user's personal scope, find that installation, and read the 1:1 chat between the user and
 * the app. The chat id is the conversation id of the user's personal chat with the bot.
 *
 *   POST /v1.0/users/{id|upn}/teamwork/installedApps            201 installed, 409 already installed
 *   GET  /v1.0/users/{id|upn}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '{catalog id}'
 *   GET  /v1.0/users/{id|upn}/teamwork/installedApps/{installationId}/chat   → { id: "19:...@unq.gbl.spaces" }
 */
import type { Logger } from "../logger";
import { type GraphClient, GraphRequestError, isGraphRequestError } from "./graph-client";
import {
  GraphAppNotInCatalogError, GraphInstallError, GraphInstallationNotFoundError, GraphPermissionError, GraphUserNotFoundError,
} from "./install-errors";

export type InstallStatus = "installed" | "alreadyInstalled";

export interface InstallResult {
  user: string;
  chatId: string;
  status: InstallStatus;
}

export type UserInstallOutcome =
  | { user: string; ok: true; chatId: string; status: InstallStatus }
  | { user: string; ok: false; error: { code: string; message: string } };

export interface GraphAppInstallerOptions {
  client: GraphClient;
  /** The app's id in the org catalog (Graph's teamsApp id; equals the manifest id only for Teams Store apps). */
  teamsAppId: string;
  /** The manifest id: also matches an installation of another catalog copy of the same app (e.g. side-loaded). */
  externalAppId?: string;
  logger: Logger;
  /** Users handled at once by ensureInstalledForUsers. Default 4. */
  concurrency?: number;
  /**
   * A new installation can take a moment to show up in the user's list (and its chat to exist). Lookups are
   * repeated this many times in all before giving up. Default 4.
   */
  lookupAttempts?: number;
  /** First delay between lookups; doubles each time. Default 1000 ms. */
  lookupDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

interface Installation {
  id: string;
  teamsApp?: { id?: string; externalId?: string; displayName?: string };
}

export class GraphAppInstaller {
  readonly teamsAppId: string;
  readonly externalAppId?: string;
  private readonly client: GraphClient;
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly lookupAttempts: number;
  private readonly lookupDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: GraphAppInstallerOptions) {
    if (!options.teamsAppId?.trim()) throw new Error("GraphAppInstaller needs the Teams app's catalog id (teamsAppId)");
    this.client = options.client;
    this.teamsAppId = options.teamsAppId.trim();
    this.externalAppId = options.externalAppId?.trim() || undefined;
    this.logger = options.logger;
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.lookupAttempts = Math.max(1, Math.floor(options.lookupAttempts ?? 4));
    this.lookupDelayMs = options.lookupDelayMs ?? 1000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Make sure Herald is installed in `user`'s personal scope (AAD object id or UPN) and return the chat id of
   * their 1:1 with the bot. Throws a GraphInstallError (see install-errors.ts) with a reportable code.
   */
  async ensureInstalledForUser(user: string): Promise<InstallResult> {
    const who = user.trim();
    if (!who) throw new GraphInstallError("invalidUser", "user must be an AAD object id or a UPN, not empty", user);
    let status: InstallStatus;
    try {
      await this.client.post(installedAppsPath(who), { "teamsApp@odata.bind": `${this.client.graphResource}/v1.0/appCatalogs/teamsApps/${encodeURIComponent(this.teamsAppId)}` });
      status = "installed";
    } catch (error) {
      if (isGraphRequestError(error) && error.status === 409) {
        status = "alreadyInstalled";
      } else if (isGraphRequestError(error) && error.status === 404) {
        throw await this.explainNotFound(who, error);
      } else {
        throw explain(error, who);
      }
    }
    const chatId = await this.findChatId(who);
    this.logger.info({ user: who, status }, status === "installed" ? "installed Herald for user" : "Herald was already installed for user");
    return { user: who, chatId, status };
  }

  /** Each user independently, `concurrency` at a time; results in input order (duplicates dropped, case-insensitively). */
  async ensureInstalledForUsers(users: string[]): Promise<UserInstallOutcome[]> {
    const unique = dedupe(users);
    const outcomes: UserInstallOutcome[] = new Array(unique.length);
    let next = 0;
    const worker = async () => {
      while (next < unique.length) {
        const index = next++;
        const user = unique[index]!;
        try {
          const result = await this.ensureInstalledForUser(user);
          outcomes[index] = { user, ok: true, chatId: result.chatId, status: result.status };
        } catch (error) {
          const failure = explain(error, user);
          this.logger.warn({ user, code: failure.code, status: failure.status, requestId: failure.requestId }, "could not install Herald for user");
          outcomes[index] = { user, ok: false, error: { code: failure.code, message: failure.message } };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, unique.length) }, worker));
    return outcomes;
  }

  /**
   * Graph answers 404 both for an unknown user and for an app missing from the catalog, with the same
   * error code. Listing the user's apps (same permission) tells them apart: it 404s only for an unknown user.
   */
  private async explainNotFound(user: string, installError: GraphRequestError): Promise<GraphInstallError> {
    try {
      await this.client.get(installedAppsPath(user), { $select: "id" });
    } catch (error) {
      if (isGraphRequestError(error) && error.status === 404) return new GraphUserNotFoundError(user, installError.requestId);
      this.logger.debug({ user, code: isGraphRequestError(error) ? error.code : "unknown" }, "could not tell an unknown user from a missing app");
      return new GraphInstallError("appNotInCatalogOrUserNotFound",
        `Teams app ${this.teamsAppId} was not found in the tenant's app catalog, or user ${user} was not found ` +
        `(Graph: ${installError.graphMessage || installError.code})`, user, 404, installError.requestId);
    }
    return new GraphAppNotInCatalogError(user, this.teamsAppId, installError.requestId);
  }

  /** Find the installation, then its chat; repeated briefly because a fresh install may not be visible yet. */
  private async findChatId(user: string): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        const installation = await this.findInstallation(user);
        if (installation) {
          const chat = await this.client.get<{ id?: string }>(`${installedAppsPath(user)}/${encodeURIComponent(installation.id)}/chat`, { $select: "id" });
          if (chat.body?.id) return chat.body.id;
        }
      } catch (error) {
        // A 404 here means the installation or its chat is not there (yet); anything else is final.
        if (!(isGraphRequestError(error) && error.status === 404)) throw explain(error, user);
      }
      if (attempt >= this.lookupAttempts) throw new GraphInstallationNotFoundError(user, this.teamsAppId, this.externalAppId);
      const delay = this.lookupDelayMs * 2 ** (attempt - 1);
      this.logger.debug({ user, attempt, delayMs: delay }, "installation not visible yet; looking again");
      await this.sleep(delay);
    }
  }

  /** By catalog id first; by manifest id when given, which also finds another catalog copy of the same app. */
  private async findInstallation(user: string): Promise<Installation | undefined> {
    const byCatalogId = await this.firstMatch(user, "id", this.teamsAppId);
    if (byCatalogId || !this.externalAppId) return byCatalogId;
    return this.firstMatch(user, "externalId", this.externalAppId);
  }

  private async firstMatch(user: string, field: "id" | "externalId", value: string): Promise<Installation | undefined> {
    const query = { $expand: "teamsApp", $filter: `teamsApp/${field} eq '${value.replace(/'/g, "''")}'` };
    for await (const page of this.client.pages<Installation>(installedAppsPath(user), query)) {
      // Check the match here too: the filter is what Graph documents, not a guarantee of what it returns.
      const found = page.find((installation) => installation.id && installation.teamsApp?.[field] === value);
      if (found) return found;
    }
    return undefined;
  }
}

function installedAppsPath(user: string): string {
  return `/v1.0/users/${encodeURIComponent(user)}/teamwork/installedApps`;
}

/** Any failure as a GraphInstallError with a reportable code. */
function explain(error: unknown, user: string): GraphInstallError {
  if (error instanceof GraphInstallError) return error;
  if (!isGraphRequestError(error)) {
    return new GraphInstallError("graphError", `unexpected failure: ${error instanceof Error ? error.message : String(error)}`, user);
  }
  if (error.status === 403) return new GraphPermissionError(user, error.graphMessage, error.requestId);
  const code = error.status === 429 ? "throttled"
    : error.status === 502 || error.status === 503 || error.status === 504 ? "graphUnavailable"
    : error.code === "timeout" ? "timeout"
    : error.code === "authenticationFailed" ? "authenticationFailed"
    : "graphError";
  return new GraphInstallError(code, error.message, user, error.status || undefined, error.requestId);
}

function dedupe(users: string[]): string[] {
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const raw of users) {
    const user = raw.trim();
    const key = user.toLowerCase();
    if (!user || seen.has(key)) continue;
    seen.add(key);
    unique.push(user);
  }
  return unique;
}
