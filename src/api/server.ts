/**
 * The HTTP surface: the bot endpoint Teams (or Agents Playground) calls, and Herald's own API. Every API
 * answer is JSON, errors included, even for routes restify itself rejects.
 */
import restify, { type Request, type Response, type Server } from "restify";
import type { Logger } from "../logger";
import type { HeraldStore } from "../store/types";
import type { NotificationService } from "../delivery/notification-service";
import { createApiAuth, type EntraValidate } from "./auth";
import type { NamedApiKey } from "../config";
import { sendJson } from "./errors";
import { registerNotificationRoutes } from "./notifications-routes";
import { openApiDocument } from "./openapi";
import { createRouteHandler } from "./route";
import { registerHealthRoutes } from "./health-routes";
import { registerPeopleRoutes } from "./people-routes";
import { registerTargetRoutes } from "./targets-routes";
import type { PartitionOwnership } from "../cluster/ownership";

export interface ServerDeps {
  logger: Logger;
  store: HeraldStore;
  notifications: NotificationService;
  engine: { readonly isStarted: boolean };
  ownership: PartitionOwnership;
  apiKey?: string;
  /** Named API keys (HERALD_API_KEYS; HERALD_API_KEY as "default"). Take precedence over `apiKey`. */
  apiKeys?: readonly NamedApiKey[];
  /** Entra ID access tokens with the app role Notifications.Send; absent = not accepted. */
  entra?: EntraValidate;
  /** POST /api/notifications per caller per minute; 0 or absent = no limit. */
  ratePerMinute?: number;
  /** HERALD_ALLOWED_TENANTS: audiences may not name other tenants. */
  allowedTenants?: readonly string[];
  /** Answers POST /api/messages, reading the body itself (bot/activity-endpoint.ts). */
  processActivity: (req: Request, res: Response) => Promise<void>;
}

export function createServer(deps: ServerDeps): Server {
  const server = restify.createServer({ name: "herald", handleUncaughtExceptions: false });
  server.use(restify.plugins.queryParser({ mapParams: false }));

  for (const event of ["NotFound", "MethodNotAllowed", "VersionNotAllowed", "UnsupportedMediaType", "PayloadTooLarge", "BadRequest"]) {
    server.on(event, (_req: Request, _res: Response, err: { toJSON?: () => unknown; message: string; body?: { code?: string } }, callback: () => void) => {
      const code = event === "NotFound" ? "not_found" : event.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
      err.toJSON = () => ({ error: { code, message: err.message || code } });
      return callback();
    });
  }

  server.post("/api/messages", async (req: Request, res: Response) => {
    await deps.processActivity(req, res);
  });

  registerHealthRoutes(server, deps);

  server.get("/api/openapi.json", async (_req: Request, res: Response) => sendJson(res, 200, openApiDocument()));

  const keys = deps.apiKeys ?? (deps.apiKey ? [{ name: "default", key: deps.apiKey }] : []);
  const handle = createRouteHandler(createApiAuth({ keys, entra: deps.entra }), deps.logger);
  registerNotificationRoutes(server, handle, deps);
  registerTargetRoutes(server, handle, deps);
  server.get("/api/cluster", handle(async (_req, res) => sendJson(res, 200, await deps.ownership.cluster())));
  registerPeopleRoutes(server, handle, deps);
  return server;
}
