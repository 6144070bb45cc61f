import type { Request, Response, Server } from "restify";
import type { HeraldStore } from "../store/types";
import { describeValidationError, notificationRequestSchema } from "../delivery/notification-request";
import { RequestError, toReport, type NotificationService } from "../delivery/notification-service";
import { ApiError, badRequest, notFound, sendJson } from "./errors";
import { readJsonBody } from "./json-body";
import type { Caller } from "./auth";
import { CallerRateLimit } from "./caller-rate-limit";
import { pageParams, type RouteHandler } from "./route";
import { assertAudienceTenants } from "./tenant-policy";

const DELIVERY_STATUSES = ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"] as const;

/** What the TeamsFx template's /api/notification sent when called with no body, kept for migrating callers. */
const TEMPLATE_DEFAULTS = { title: "New Event Occurred!", text: "This is a sample http-triggered notification." };

export function registerNotificationRoutes(
  server: Server,
  handle: RouteHandler,
  deps: { store: HeraldStore; notifications: NotificationService; allowedTenants?: readonly string[]; ratePerMinute?: number },
): void {
  const { store, notifications } = deps;
  const rateLimit = new CallerRateLimit(deps.ratePerMinute ?? 0);

  const create = (defaults: Record<string, string>) => async (req: Request, res: Response, caller: Caller) => {
    rateLimit.take(caller.id);
    const body = await readJsonBody(req);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("(body)", "body must be a JSON object");
    const parsed = notificationRequestSchema.safeParse({ ...defaults, ...body });
    if (!parsed.success) {
      const { field, message } = describeValidationError(parsed.error);
      throw badRequest(field, message);
    }
    assertAudienceTenants(parsed.data.audience, deps.allowedTenants ?? []);
    try {
      const { job, created } = await notifications.create(parsed.data, { triggeredBy: "the Herald API", createdBy: caller.id });
      const report = (await notifications.report(job.id))!;
      res.setHeader("location", `/api/notifications/${job.id}`);
      // A repeated idempotencyKey replays the original answer (202) with created=false.
      sendJson(res, 202, { ...report, created });
    } catch (error) {
      if (error instanceof RequestError) throw badRequest(error.field, error.message);
      throw error;
    }
  };

  server.post("/api/notifications", handle(create({})));
  server.post("/api/notification", handle(create(TEMPLATE_DEFAULTS)));

  server.get("/api/notifications", handle(async (req, res) => {
    const { limit, cursor } = pageParams(req, 50, 200);
    const page = await store.jobs.listJobs(limit, cursor);
    const items = await Promise.all(page.items.map(async (job) => toReport(job, await store.jobs.counts(job.id))));
    sendJson(res, 200, { items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  }));

  server.get("/api/notifications/:id", handle(async (req, res) => {
    const report = await notifications.report(String(req.params.id));
    if (!report) throw notFound(`notification ${req.params.id}`);
    sendJson(res, 200, report);
  }));

  server.get("/api/notifications/:id/deliveries", handle(async (req, res) => {
    const id = String(req.params.id);
    if (!(await store.jobs.getJob(id))) throw notFound(`notification ${id}`);
    const { limit, cursor } = pageParams(req, 100, 1000);
    const status = req.query?.status as string | undefined;
    if (status !== undefined && !DELIVERY_STATUSES.includes(status as never)) {
      throw badRequest("status", `must be one of ${DELIVERY_STATUSES.join(", ")}`);
    }
    const page = await store.jobs.listDeliveries(id, limit, cursor, status as (typeof DELIVERY_STATUSES)[number] | undefined);
    const items = page.items.map((d) => ({
      recipientKey: d.recipientKey,
      status: d.status,
      ...(d.reason ? { reason: d.reason } : {}),
      attempts: d.attempts,
      throttled: d.throttled,
      ...(d.activityId ? { activityId: d.activityId } : {}),
      conversationId: d.recipient.conversationId ?? null,
      tenantId: d.recipient.tenantId,
      updatedAt: d.updatedAt,
    }));
    sendJson(res, 200, { items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  }));

  server.post("/api/notifications/:id/cancel", handle(async (req, res) => {
    const report = await notifications.cancel(String(req.params.id));
    if (!report) throw notFound(`notification ${req.params.id}`);
    if (report.status !== "cancelled") {
      throw new ApiError(409, "not_cancellable", `notification ${report.id} is already ${report.status}`);
    }
    sendJson(res, 200, report);
  }));
}
