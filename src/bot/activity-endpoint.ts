/**
 * POST /api/messages: the door Teams knocks on. In order, each step answering for itself:
 *   1. the body is a JSON activity of the shape Herald reads  → else 400/413/415, nothing stored
 *   2. the Bot Framework token is valid for this bot           → else 401; keys unreachable → 503 + Retry-After
 *   3. the activity's tenant is allowed (HERALD_ALLOWED_TENANTS) → else 403, nothing stored
 *   4. the turn runs (TeamsFx's middleware, then HeraldBot)     → 200, or an invoke's own answer
 * Every error is JSON `{"error": {"code", "message"}}`; the reason goes to the log, never a token.
 */
import type { Activity, TurnContext } from "botbuilder";
import type { Request, Response } from "restify";
import { ApiError, badRequest, sendError, sendJson } from "../api/errors";
import { readJsonBody } from "../api/json-body";
import type { Logger } from "../logger";
import { tenantOf } from "./activity-info";
import { describeActivityError, inboundActivitySchema } from "./activity-schema";
import type { HeraldCloudAdapter } from "./adapter";
import { authenticateInbound, InboundAuthError } from "./inbound-auth";

const MAX_ACTIVITY_BYTES = 1024 * 1024;

export interface ActivityEndpointDeps {
  adapter: Pick<HeraldCloudAdapter, "authenticate" | "processAuthenticated">;
  logic: (context: TurnContext) => Promise<void>;
  /** Lower-cased tenant ids; empty = any tenant. */
  allowedTenants: readonly string[];
  logger: Logger;
  /** Upper bound on fetching the OpenID metadata and keys (default 10 s). */
  authTimeoutMs?: number;
}

export function createActivityEndpoint(deps: ActivityEndpointDeps): (req: Request, res: Response) => Promise<void> {
  const allowed = new Set(deps.allowedTenants.map((t) => t.toLowerCase()));
  return async (req, res) => {
    let activity: Activity | undefined;
    try {
      activity = parseActivity(await readJsonBody(req, MAX_ACTIVITY_BYTES));
      const authHeader = String(req.headers.authorization ?? "");
      const auth = await authenticateInbound((a, h) => deps.adapter.authenticate(a, h), activity, authHeader, deps.authTimeoutMs);
      const tenantId = tenantOf(activity)?.toLowerCase();
      if (allowed.size > 0 && (!tenantId || !allowed.has(tenantId))) {
        throw new ApiError(403, "tenant_not_allowed", `tenant ${tenantId ?? "(none)"} is not in HERALD_ALLOWED_TENANTS`);
      }
      const invoke = await deps.adapter.processAuthenticated(auth, activity, deps.logic);
      answer(res, activity, invoke, deps.logger);
    } catch (error) {
      if (error instanceof InboundAuthError) {
        const { failure } = error;
        // The reason names what failed (signature, audience, metadata...); the token itself is never logged.
        deps.logger.warn({ status: failure.status, reason: failure.reason, activityType: activity?.type, serviceUrl: activity?.serviceUrl }, "activity rejected: authentication");
        if (failure.status === 503) {
          res.setHeader("retry-after", String(failure.retryAfterSeconds));
          sendError(res, new ApiError(503, "auth_unavailable", "the Bot Framework signing keys could not be fetched; retry later"));
        } else {
          sendError(res, new ApiError(401, "unauthorized", "the request's Bot Framework token was rejected"));
        }
        return;
      }
      if (error instanceof ApiError) {
        deps.logger.warn({ status: error.status, code: error.code, reason: error.message, activityType: activity?.type }, "activity rejected");
        sendError(res, error);
        return;
      }
      deps.logger.error({ err: error, activityType: activity?.type }, "activity could not be processed");
      sendError(res, new ApiError(500, "internal_error", "Herald could not process the activity; see its log"));
    }
  };
}

function parseActivity(body: unknown): Activity {
  const parsed = inboundActivitySchema.safeParse(body);
  if (!parsed.success) throw badRequest("(body)", describeActivityError(parsed.error));
  const activity = parsed.data as unknown as Activity & { rawTimestamp?: string; rawLocalTimestamp?: string; rawExpiration?: string };
  // What botbuilder's validateAndFixActivity does: keep the wire strings, expose Dates.
  for (const [field, raw] of [["timestamp", "rawTimestamp"], ["localTimestamp", "rawLocalTimestamp"], ["expiration", "rawExpiration"]] as const) {
    const value = activity[field] as unknown;
    if (typeof value === "string") {
      activity[raw] = value;
      (activity as unknown as Record<string, unknown>)[field] = new Date(value);
    }
  }
  return activity;
}

/**
 * An invoke is answered with the bot's invoke response. Herald handles no invokes (its cards use Action.Submit):
 * botbuilder then answers 501, which is the caller's unsupported request, not Herald failing — so 400.
 */
function answer(res: Response, activity: Activity, invoke: { status: number; body?: unknown } | undefined, logger: Logger): void {
  if (!invoke) {
    res.status(200);
    res.end();
    return;
  }
  if (activity.type === "invoke" && invoke.status >= 500) {
    logger.warn({ name: activity.name, status: invoke.status }, "invoke not handled");
    sendError(res, new ApiError(400, "unsupported_invoke", `Herald does not handle invoke "${String(activity.name ?? "")}"`));
    return;
  }
  if (invoke.body === undefined) {
    res.status(invoke.status);
    res.end();
  } else {
    sendJson(res, invoke.status, invoke.body);
  }
}
