/**
 * The Herald tab on Herald's own server: the built pages at /tab/ and their API at /tab/api/ — "My notifications"
 * for everyone, the dashboard and composer for senders.
 */
import type { Server } from "restify";
import { EntraTokenValidator } from "../auth/entra-token";
import type { TabConfig } from "../config";
import type { NotificationService } from "../delivery/notification-service";
import type { Logger } from "../logger";
import type { HeraldStore, Target } from "../store/types";
import { sendJson } from "../api/errors";
import { registerMyRoutes } from "./my-routes";
import { registerSenderRoutes } from "./sender-routes";
import { isLoopback, TabIdentity } from "./tab-identity";
import { tabRoutes } from "./tab-route";
import { defaultTabDir, registerTabStatic } from "./tab-static";

export interface TabDeps {
  config: TabConfig;
  /** No BOT_ID: `?as=` works for loopback callers and loopback pages may frame the tab. */
  localMode: boolean;
  store: HeraldStore;
  notifications: NotificationService;
  logger: Logger;
  teamChannels?: (team: Target) => Promise<Array<{ id: string; name?: string }>>;
  /** The built tab; default dist/tab. */
  dir?: string;
}

export function mountTab(server: Server, deps: TabDeps): void {
  const { config } = deps;
  const validator = config.clientId
    ? new EntraTokenValidator({
      audiences: config.audiences,
      allowedTenants: config.allowedTenants,
      authorityHost: config.authorityHost,
      ...(config.openIdMetadataUrl ? { openIdMetadataUrl: config.openIdMetadataUrl } : {}),
    })
    : undefined;
  const identity = new TabIdentity({ validator, senders: config.senders, localMode: deps.localMode, store: deps.store });
  const { asPerson, asSender } = tabRoutes(identity, deps.logger);

  registerMyRoutes(server, asPerson, deps.store);
  registerSenderRoutes(server, asSender, deps);

  // Local mode only: the people Herald knows, so /tab/ without ?as= can offer them.
  server.get("/tab/api/local/people", async (req, res) => {
    if (!deps.localMode || !isLoopback(req)) {
      sendJson(res, 404, { error: { code: "not_found", message: "local mode only" } });
      return;
    }
    const page = await deps.store.targets.list({ kind: "personal", status: "active" }, 50);
    sendJson(res, 200, { items: page.items.map((t) => ({ id: t.aadObjectId ?? t.userId ?? t.conversationId, name: t.name ?? t.userId })) });
  });

  registerTabStatic(server, { dir: deps.dir ?? defaultTabDir(), localMode: deps.localMode });
}
