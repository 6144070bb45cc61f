/**
 * Route wrappers of the tab's API: the caller is identified (tab-identity.ts) on every request; sender routes
 * answer 403 to everyone else. Errors are the API's JSON shape (src/api/errors.ts).
 */
import type { Request, Response } from "restify";
import { ApiError } from "../api/errors";
import { createRouteHandler } from "../api/route";
import type { Logger } from "../logger";
import type { TabIdentity, TabPerson } from "./tab-identity";

export type PersonHandler = (req: Request, res: Response, person: TabPerson) => Promise<void>;
export type PersonRoute = (fn: PersonHandler) => (req: Request, res: Response) => Promise<void>;

export function tabRoutes(identity: TabIdentity, logger: Logger): { asPerson: PersonRoute; asSender: PersonRoute } {
  // Authentication happens inside (it is asynchronous); the shared wrapper turns errors into JSON answers.
  const handle = createRouteHandler(() => undefined, logger);
  const asPerson: PersonRoute = (fn) => handle(async (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    await fn(req, res, await identity.identify(req));
  });
  const asSender: PersonRoute = (fn) => asPerson(async (req, res, person) => {
    if (!person.isSender) {
      throw new ApiError(403, "forbidden", "only senders may do this: people with the Herald.Sender app role or listed in HERALD_SENDERS");
    }
    await fn(req, res, person);
  });
  return { asPerson, asSender };
}
