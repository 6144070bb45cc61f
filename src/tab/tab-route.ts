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
  // The shared wrapper identifies the caller (and logs refusals), then turns errors into JSON answers.
  const people = new WeakMap<Request, TabPerson>();
  const handle = createRouteHandler(async (req) => {
    const person = await identity.identify(req);
    people.set(req, person);
    return { id: person.signedInWith === "local" ? "local" : `user:${person.oid}` };
  }, logger);
  const asPerson: PersonRoute = (fn) => handle(async (req, res) => {
    res.setHeader("x-content-type-options", "nosniff");
    await fn(req, res, people.get(req)!);
  });
  const asSender: PersonRoute = (fn) => asPerson(async (req, res, person) => {
    if (!person.isSender) {
      throw new ApiError(403, "forbidden", "only senders may do this: people with the Herald.Sender app role or listed in HERALD_SENDERS");
    }
    await fn(req, res, person);
  });
  return { asPerson, asSender };
}
