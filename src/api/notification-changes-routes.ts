/**
 * Changing a notification after it was sent: PATCH (update every copy), DELETE (retract), retry, remind. Each
 * answers 202 once the change is stored; the partitions' owners do the Teams work (delivery/notification-changes.ts).
 */
import type { Server } from "restify";
import { NotificationChanges, NotificationConflict, NotificationNotFound } from "../delivery/notification-changes";
import { describeValidationError, notificationUpdateSchema } from "../delivery/notification-request";
import { RequestError, type NotificationService } from "../delivery/notification-service";
import { ApiError, badRequest, notFound, sendJson } from "./errors";
import { readJsonBody } from "./json-body";
import { CallerRateLimit } from "./caller-rate-limit";
import type { RouteHandler } from "./route";

export function registerNotificationChangeRoutes(
  server: Server,
  handle: RouteHandler,
  deps: { notifications: NotificationService; changes: NotificationChanges; ratePerMinute?: number },
): void {
  const { notifications, changes } = deps;
  const rateLimit = new CallerRateLimit(deps.ratePerMinute ?? 0);

  /** 202 with the notification's report (and `extra`), after `change` is stored. */
  const accepted = async (res: Parameters<Parameters<RouteHandler>[0]>[1], id: string, extra: Record<string, unknown> = {}) => {
    const report = await notifications.report(id);
    if (!report) throw notFound(`notification ${id}`);
    res.setHeader("location", `/api/notifications/${id}`);
    sendJson(res, 202, { ...report, ...extra });
  };

  server.patch("/api/notifications/:id", handle(async (req, res) => {
    const body = await readJsonBody(req);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("(body)", "body must be a JSON object");
    const parsed = notificationUpdateSchema.safeParse(body);
    if (!parsed.success) {
      const { field, message } = describeValidationError(parsed.error);
      throw badRequest(field, message);
    }
    const job = await mapErrors(() => changes.update(String(req.params.id), parsed.data));
    await accepted(res, job.id);
  }));

  server.del("/api/notifications/:id", handle(async (req, res) => {
    const job = await mapErrors(() => changes.retract(String(req.params.id)));
    await accepted(res, job.id);
  }));

  server.post("/api/notifications/:id/retry", handle(async (req, res) => {
    const { job, requeued } = await mapErrors(() => changes.retry(String(req.params.id)));
    await accepted(res, job.id, { requeued });
  }));

  server.post("/api/notifications/:id/remind", handle(async (req, res, caller) => {
    rateLimit.take(caller.id);
    const body = await readJsonBody(req);
    const idempotencyKey = (body as { idempotencyKey?: unknown } | null)?.idempotencyKey;
    if (typeof body !== "object" || body === null || Array.isArray(body) || Object.keys(body).some((k) => k !== "idempotencyKey")) {
      throw badRequest("(body)", "body must be empty or {\"idempotencyKey\": \"…\"}");
    }
    if (idempotencyKey !== undefined && (typeof idempotencyKey !== "string" || !idempotencyKey.trim() || idempotencyKey.length > 200)) {
      throw badRequest("idempotencyKey", "must be a non-empty string of at most 200 characters");
    }
    const { job, created } = await mapErrors(() => changes.remind(String(req.params.id), { triggeredBy: "the Herald API", createdBy: caller.id }, idempotencyKey));
    await accepted(res, job.id, { created });
  }));
}

async function mapErrors<T>(change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (error) {
    if (error instanceof NotificationNotFound) throw new ApiError(404, "not_found", error.message);
    if (error instanceof NotificationConflict) throw new ApiError(409, error.code, error.message);
    if (error instanceof RequestError) throw badRequest(error.field, error.message);
    throw error;
  }
}
