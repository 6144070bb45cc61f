/**
 * Health for people and for App Service: `/api/health` (this instance: store, engine, the partitions it owns),
 * `/api/health/live` (the process answers) and `/api/health/ready` (the store answers and the engine runs —
 * App Service's health check, so traffic goes only to instances that can serve it). Unauthenticated and free
 * of anything secret.
 */
import type { Request, Response, Server } from "restify";
import type { PartitionOwnership } from "../cluster/ownership";
import type { Logger } from "../logger";
import type { HeraldStore } from "../store/types";
import { sendJson } from "./errors";

export interface HealthDeps {
  logger: Logger;
  store: HeraldStore;
  engine: { readonly isStarted: boolean };
  ownership: PartitionOwnership;
}

export function registerHealthRoutes(server: Server, deps: HealthDeps): void {
  const storeAnswers = async (): Promise<boolean> => {
    try {
      await deps.store.ping();
      return true;
    } catch (error) {
      deps.logger.error({ err: error }, "health check: store unusable");
      return false;
    }
  };
  const instance = () => ({ instanceId: deps.ownership.instanceId, partitions: deps.ownership.owned(), partitionCount: deps.ownership.partitionCount });

  server.get("/api/health", async (_req: Request, res: Response) => {
    if (await storeAnswers()) {
      sendJson(res, 200, { status: "ok", store: deps.store.kind, engine: deps.engine.isStarted ? "running" : "stopped", ...instance() });
    } else {
      sendJson(res, 503, {
        status: "unavailable", store: deps.store.kind, ...instance(), error: { code: "store_unavailable", message: "the store did not answer" },
      });
    }
  });

  server.get("/api/health/live", async (_req: Request, res: Response) => sendJson(res, 200, { status: "ok" }));

  server.get("/api/health/ready", async (_req: Request, res: Response) => {
    const store = await storeAnswers();
    const ready = store && deps.engine.isStarted;
    sendJson(res, ready ? 200 : 503, {
      status: ready ? "ready" : "not_ready", store: store ? "ok" : "unavailable", engine: deps.engine.isStarted ? "running" : "stopped", ...instance(),
    });
  });
}
