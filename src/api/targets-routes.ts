import type { Server } from "restify";
import type { HeraldStore, Target, TargetQuery } from "../store/types";
import { badRequest, sendJson } from "./errors";
import { pageParams, type RouteHandler } from "./route";

const KINDS = ["personal", "groupChat", "channel"];
const STATUSES = ["active", "gone"];

export function parseTargetQuery(query: Record<string, unknown> | undefined): TargetQuery {
  const q = query ?? {};
  const result: TargetQuery = {};
  if (q.kind !== undefined) {
    if (!KINDS.includes(String(q.kind))) throw badRequest("kind", `must be one of ${KINDS.join(", ")}`);
    result.kind = q.kind as TargetQuery["kind"];
  }
  if (q.status !== undefined) {
    if (!STATUSES.includes(String(q.status))) throw badRequest("status", `must be one of ${STATUSES.join(", ")}`);
    result.status = q.status as TargetQuery["status"];
  }
  if (q.tenantId !== undefined) result.tenantId = String(q.tenantId);
  if (q.teamId !== undefined) result.teamId = String(q.teamId);
  return result;
}

/** The registry as callers see it: no conversation reference internals beyond what identifies the target. */
export function publicTarget(t: Target) {
  return {
    key: t.key, kind: t.kind, tenantId: t.tenantId, conversationId: t.conversationId, status: t.status,
    ...(t.goneReason ? { goneReason: t.goneReason, goneAt: t.goneAt } : {}),
    ...(t.teamId ? { teamId: t.teamId, teamName: t.teamName } : {}),
    ...(t.channelId ? { channelId: t.channelId } : {}),
    ...(t.userId ? { userId: t.userId } : {}),
    ...(t.aadObjectId ? { aadObjectId: t.aadObjectId } : {}),
    ...(t.name ? { name: t.name } : {}),
    ...(t.timeZone ? { timeZone: t.timeZone } : {}),
    ...(t.installedBy ? { installedBy: t.installedBy } : {}),
    installedAt: t.installedAt, updatedAt: t.updatedAt,
  };
}

export function registerTargetRoutes(server: Server, handle: RouteHandler, deps: { store: HeraldStore }): void {
  server.get("/api/targets", handle(async (req, res) => {
    const query = parseTargetQuery(req.query);
    const { limit, cursor } = pageParams(req, 100, 1000);
    const [page, total] = await Promise.all([deps.store.targets.list(query, limit, cursor), deps.store.targets.count(query)]);
    sendJson(res, 200, { total, items: page.items.map(publicTarget), ...(page.cursor ? { cursor: page.cursor } : {}) });
  }));
}
