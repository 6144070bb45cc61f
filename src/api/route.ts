import type { Request, Response } from "restify";
import type { Logger } from "../logger";
import type { Caller } from "./auth";
import { ApiError, badRequest, sendError } from "./errors";

export type RouteHandler = (fn: (req: Request, res: Response, caller: Caller) => Promise<void>) => (req: Request, res: Response) => Promise<void>;

/**
 * Wraps an API route: authenticates, turns ApiError into its JSON answer and anything else into a 500 that
 * says nothing about the internals (the details go to the log).
 */
export function createRouteHandler(authenticate: (req: Request) => Promise<Caller>, logger: Logger): RouteHandler {
  return (fn) => async (req, res) => {
    try {
      const caller = await authenticate(req);
      await fn(req, res, caller);
    } catch (error) {
      if (error instanceof ApiError) {
        // Who was refused and why, for the operator; never the presented credential.
        if (error.status === 401 || error.status === 403 || error.status === 429) {
          logger.warn({ status: error.status, code: error.code, route: req.getRoute?.()?.path, reason: error.message }, "API request refused");
        }
        sendError(res, error);
        return;
      }
      logger.error({ err: error, route: req.getRoute?.()?.path }, "API request failed");
      sendError(res, new ApiError(500, "internal_error", "Herald could not complete the request; see its log"));
    }
  };
}

export function pageParams(req: Request, defaultLimit: number, maxLimit: number): { limit: number; cursor?: string } {
  const rawLimit = req.query?.limit as string | undefined;
  let limit = defaultLimit;
  if (rawLimit !== undefined) {
    limit = Number(rawLimit);
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) throw badRequest("limit", `must be a whole number from 1 to ${maxLimit}`);
  }
  const cursor = req.query?.cursor as string | undefined;
  return { limit, ...(cursor ? { cursor } : {}) };
}
