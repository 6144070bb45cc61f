/**
 * A loopback fake of the Microsoft Graph endpoints Herald's proactive install uses, shaped after Microsoft's
 * documentation ("Install app for user", "List apps installed for user", "Get chat between user and app"):
 *
 *   POST /v1.0/users/{id|upn}/teamwork/installedApps        {"teamsApp@odata.bind": ".../appCatalogs/teamsApps/{id}"}
 *        → 201 (empty body) | 409 Conflict | 404 NotFound (user or app) | 400 BadRequest
 *   GET  /v1.0/users/{id|upn}/teamwork/installedApps[?$expand=teamsApp,teamsAppDefinition][&$filter=teamsApp/id eq '..'
 *        | teamsApp/externalId eq '..'][&$select=id]  → 200 {"@odata.context", "value": [...], "@odata.nextLink"?}
 *   GET  /v1.0/users/{id|upn}/teamwork/installedApps/{installationId}/chat → 200 {"@odata.context", "id": "19:...@unq.gbl.spaces", ...}
 *
 * Errors use Graph's body: {"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}.
 * Fault injection answers the next N requests of a route with 429 (with or without Retry-After), 5xx or 403, and
 * every request is logged (with its Authorization header and parsed body) for tests to assert on.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const GRAPH_ROOT = "https://graph.microsoft.com/v1.0";

export interface FakeGraphUser {
  id: string;
  userPrincipalName: string;
}

export interface FakeCatalogApp {
  /** Catalog id (Graph's teamsApp id). */
  id: string;
  /** Manifest id. */
  externalId: string;
  displayName?: string;
  distributionMethod?: "organization" | "store" | "sideloaded";
  version?: string;
}

export interface FakeInstallation {
  id: string;
  userId: string;
  appId: string;
  chatId: string;
  /** List requests for which a fresh installation stays invisible (Graph's eventual consistency). */
  hiddenForLists: number;
}

export type FakeGraphRoute = "install" | "listInstalledApps" | "getChat";

export type FakeGraphFault =
  | { status: 429; retryAfter?: string }
  | { status: 403 | 500 | 502 | 503 | 504 };

export interface FakeGraphRequest {
  method: string;
  /** Decoded path, e.g. /v1.0/users/a@contoso.com/teamwork/installedApps */
  path: string;
  route?: FakeGraphRoute;
  query: Record<string, string>;
  authorization?: string;
  contentType?: string;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body?: unknown;
  status: number;
}

export interface FakeGraphOptions {
  /** Items per page of installedApps before `@odata.nextLink`. Default 100. */
  pageSize?: number;
  /** Bearer tokens the fake accepts. Default: any non-empty one. */
  acceptToken?: (token: string) => boolean;
  /** A new installation is left out of this many list requests for its user. Default 0. */
  newInstallationHiddenForLists?: number;
}

export class FakeGraph {
  readonly requests: FakeGraphRequest[] = [];
  private readonly users: FakeGraphUser[] = [];
  private readonly catalog = new Map<string, FakeCatalogApp>();
  private readonly installations: FakeInstallation[] = [];
  private readonly faults: Array<{ route: FakeGraphRoute | "any"; remaining: number; fault: FakeGraphFault }> = [];
  private server?: Server;
  private baseUrl = "";

  constructor(private readonly options: FakeGraphOptions = {}) {}

  static async start(options: FakeGraphOptions = {}): Promise<FakeGraph> {
    const fake = new FakeGraph(options);
    await fake.listen();
    return fake;
  }

  /** e.g. http://127.0.0.1:54321 — pass as the client's baseUrl. */
  get url(): string {
    return this.baseUrl;
  }

  addUser(user: FakeGraphUser): this {
    this.users.push(user);
    return this;
  }

  addCatalogApp(app: FakeCatalogApp): this {
    this.catalog.set(app.id, app);
    return this;
  }

  /** Installs directly (as if the user had added the app), returning the installation. */
  preinstall(userKey: string, appId: string): FakeInstallation {
    const user = this.findUser(userKey);
    const app = this.catalog.get(appId);
    if (!user || !app) throw new Error(`fake graph: cannot preinstall ${appId} for ${userKey}`);
    return this.install(user, app, 0);
  }

  installationsOf(userKey: string): FakeInstallation[] {
    const user = this.findUser(userKey);
    return user ? this.installations.filter((installation) => installation.userId === user.id) : [];
  }

  /** The next `count` requests to `route` ("any" = every route) get `fault` instead of an answer. */
  failNext(route: FakeGraphRoute | "any", count: number, fault: FakeGraphFault): this {
    this.faults.push({ route, remaining: count, fault });
    return this;
  }

  requestsTo(route: FakeGraphRoute): FakeGraphRequest[] {
    return this.requests.filter((request) => request.route === route);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        if (!res.headersSent) this.sendError(res, undefined, 500, "InternalServerError", String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    const text = await readBody(req);
    const entry: FakeGraphRequest = {
      method: req.method ?? "GET",
      path: decodeURIComponent(url.pathname),
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      body: text ? parseJsonOr(text) : undefined,
      status: 0,
    };
    this.requests.push(entry);
    const clientRequestId = header(req, "client-request-id");
    const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      this.send(res, clientRequestId, status, body, headers);
    };
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      entry.status = status;
      this.sendError(res, clientRequestId, status, code, message, headers);
    };

    const match = matchRoute(entry.method, url.pathname);
    entry.route = match?.route;

    const token = /^Bearer (.+)$/.exec(entry.authorization ?? "")?.[1];
    if (!token) return fail(401, "InvalidAuthenticationToken", "Access token is empty.");
    if (this.options.acceptToken && !this.options.acceptToken(token)) {
      return fail(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    }
    if (!match) return fail(400, "BadRequest", `Resource not found for the segment '${url.pathname.split("/").pop()}'.`);

    const fault = this.faults.find((candidate) => candidate.remaining > 0 && (candidate.route === "any" || candidate.route === match.route));
    if (fault) {
      fault.remaining--;
      return this.answerFault(fault.fault, fail);
    }

    const user = this.findUser(match.user);
    if (!user) return fail(404, "NotFound", `User Id '${match.user}' not found.`);

    if (match.route === "install") {
      if (!(entry.contentType ?? "").includes("application/json")) return fail(415, "UnsupportedMediaType", "Content-Type must be application/json.");
      const bind = (entry.body as Record<string, unknown> | undefined)?.["teamsApp@odata.bind"];
      const appId = typeof bind === "string" ? /^https:\/\/graph\.microsoft\.com\/v1\.0\/appCatalogs\/teamsApps\/([^/]+)$/.exec(bind)?.[1] : undefined;
      if (!appId) return fail(400, "BadRequest", "Invalid request body: teamsApp@odata.bind must reference an app in /appCatalogs/teamsApps.");
      const app = this.catalog.get(decodeURIComponent(appId));
      if (!app) return fail(404, "NotFound", `App '${decodeURIComponent(appId)}' was not found in the app catalog.`);
      const conflict = this.installations.some((installation) => installation.userId === user.id &&
        (installation.appId === app.id || this.catalog.get(installation.appId)?.externalId === app.externalId));
      if (conflict) return fail(409, "Conflict", "The app is already installed for this user.");
      this.install(user, app, this.options.newInstallationHiddenForLists ?? 0);
      return answer(201);
    }

    if (match.route === "listInstalledApps") {
      const filter = entry.query.$filter;
      let predicate: (app: FakeCatalogApp | undefined) => boolean = () => true;
      if (filter !== undefined) {
        const parsed = /^teamsApp\/(id|externalId) eq '((?:[^']|'')*)'$/.exec(filter.trim());
        if (!parsed) return fail(400, "BadRequest", `Invalid filter clause: ${filter}`);
        const [, field, quoted] = parsed;
        const value = quoted!.replace(/''/g, "'");
        predicate = (app) => app?.[field as "id" | "externalId"] === value;
      }
      const visible = this.installations.filter((installation) => installation.userId === user.id).filter((installation) => {
        if (installation.hiddenForLists > 0) {
          installation.hiddenForLists--;
          return false;
        }
        return true;
      });
      const matching = visible.filter((installation) => predicate(this.catalog.get(installation.appId)));
      const offset = Number(entry.query.$skiptoken ?? 0);
      const pageSize = this.options.pageSize ?? 100;
      const page = matching.slice(offset, offset + pageSize);
      const expand = (entry.query.$expand ?? "").split(",").map((part) => part.trim());
      const selectIdOnly = entry.query.$select === "id";
      const body: Record<string, unknown> = {
        "@odata.context": `${GRAPH_ROOT}/$metadata#users('${match.user}')/teamwork/installedApps${expand.includes("teamsApp") ? "(teamsApp())" : ""}`,
        value: page.map((installation) => this.describeInstallation(installation, expand, selectIdOnly)),
      };
      if (offset + pageSize < matching.length) {
        const next = new URL(url.pathname, this.baseUrl);
        for (const [key, value] of Object.entries(entry.query)) if (key !== "$skiptoken") next.searchParams.set(key, value);
        next.searchParams.set("$skiptoken", String(offset + pageSize));
        body["@odata.nextLink"] = next.toString();
      }
      return answer(200, body);
    }

    // getChat
    const installation = this.installations.find((candidate) => candidate.userId === user.id && candidate.id === match.installationId);
    if (!installation || installation.hiddenForLists > 0) return fail(404, "NotFound", `App installation '${match.installationId}' not found.`);
    return answer(200, {
      "@odata.context": `${GRAPH_ROOT}/$metadata#chats/$entity`,
      id: installation.chatId,
      topic: null,
      createdDateTime: "2024-01-01T00:00:00Z",
      lastUpdatedDateTime: "2024-01-01T00:00:00Z",
      chatType: "oneOnOne",
    });
  }

  private describeInstallation(installation: FakeInstallation, expand: string[], selectIdOnly: boolean): Record<string, unknown> {
    const described: Record<string, unknown> = { id: installation.id };
    if (selectIdOnly) return described;
    const app = this.catalog.get(installation.appId)!;
    if (expand.includes("teamsApp")) {
      described.teamsApp = { id: app.id, externalId: app.externalId, displayName: app.displayName ?? "Herald", distributionMethod: app.distributionMethod ?? "organization" };
    }
    if (expand.includes("teamsAppDefinition")) {
      described.teamsAppDefinition = {
        id: Buffer.from(`${app.id}##${app.version ?? "1.0.0"}`).toString("base64"),
        teamsAppId: app.id, displayName: app.displayName ?? "Herald", version: app.version ?? "1.0.0",
      };
    }
    return described;
  }

  private answerFault(fault: FakeGraphFault, fail: (status: number, code: string, message: string, headers?: Record<string, string>) => void): void {
    switch (fault.status) {
      case 429:
        return fail(429, "TooManyRequests", "Too many requests.", fault.retryAfter !== undefined ? { "retry-after": fault.retryAfter } : {});
      case 403:
        return fail(403, "Forbidden", "Missing role permissions on the request. API requires one of " +
          "'TeamsAppInstallation.ReadWriteSelfForUser.All, TeamsAppInstallation.ReadWriteForUser.All'. Roles on the request ''.");
      case 500: return fail(500, "InternalServerError", "An internal server error occurred.");
      case 502: return fail(502, "BadGateway", "Failed to execute backend request.");
      case 503: return fail(503, "ServiceNotAvailable", "The service is temporarily unavailable.");
      case 504: return fail(504, "GatewayTimeout", "The gateway timed out.");
    }
  }

  private install(user: FakeGraphUser, app: FakeCatalogApp, hiddenForLists: number): FakeInstallation {
    // Graph's installation ids are base64 of "{userId}##{teamsAppId}" (see the docs' examples).
    const installation: FakeInstallation = {
      id: Buffer.from(`${user.id}##${app.id}`).toString("base64"),
      userId: user.id,
      appId: app.id,
      chatId: `19:${user.id}_${app.id}@unq.gbl.spaces`,
      hiddenForLists,
    };
    this.installations.push(installation);
    return installation;
  }

  private findUser(key: string): FakeGraphUser | undefined {
    const lower = key.toLowerCase();
    return this.users.find((user) => user.id.toLowerCase() === lower || user.userPrincipalName.toLowerCase() === lower);
  }

  private send(res: ServerResponse, clientRequestId: string | undefined, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    const requestId = randomUUID();
    res.writeHead(status, {
      "request-id": requestId,
      "client-request-id": clientRequestId ?? requestId,
      ...(body !== undefined ? { "content-type": "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8" } : {}),
      ...headers,
    });
    res.end(body !== undefined ? JSON.stringify(body) : undefined);
  }

  private sendError(res: ServerResponse, clientRequestId: string | undefined, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    const requestId = randomUUID();
    this.send(res, clientRequestId, status, {
      error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), "request-id": requestId, "client-request-id": clientRequestId ?? requestId } },
    }, { ...headers, "request-id": requestId });
  }
}

function matchRoute(method: string, rawPath: string): { route: FakeGraphRoute; user: string; installationId?: string } | undefined {
  const segments = rawPath.split("/").filter(Boolean).map((segment) => decodeURIComponent(segment));
  if (segments[0] !== "v1.0" || segments[1] !== "users" || segments[3] !== "teamwork" || segments[4] !== "installedApps" || !segments[2]) return undefined;
  const user = segments[2];
  if (segments.length === 5 && method === "POST") return { route: "install", user };
  if (segments.length === 5 && method === "GET") return { route: "listInstalledApps", user };
  if (segments.length === 7 && segments[6] === "chat" && method === "GET") return { route: "getChat", user, installationId: segments[5] };
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
