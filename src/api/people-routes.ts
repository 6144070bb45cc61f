/** DELETE /api/people/{id}: erase what Herald stores about one person (see people/erase-person.ts). */
import type { Server } from "restify";
import type { Logger } from "../logger";
import { erasePerson, parsePersonId } from "../people/erase-person";
import type { HeraldStore } from "../store/types";
import { badRequest, notFound, sendJson } from "./errors";
import type { RouteHandler } from "./route";

export function registerPeopleRoutes(server: Server, handle: RouteHandler, deps: { store: HeraldStore; logger: Logger }): void {
  server.del("/api/people/:id", handle(async (req, res, caller) => {
    const id = decodeURIComponent(String(req.params.id));
    const ref = parsePersonId(id);
    if (!ref) throw badRequest("id", "must be an Entra object id, a UPN / e-mail address, or a Teams user id (29:...)");
    const tenantId = typeof req.query?.tenantId === "string" && req.query.tenantId ? req.query.tenantId : undefined;
    const report = await erasePerson(deps.store, { ref, ...(tenantId ? { tenantId } : {}) }, deps.logger.child({ caller: caller.id }));
    const erasedAnything = report.peopleRemoved + report.targetsRemoved + report.preferencesRemoved + report.deliveriesScrubbed > 0;
    if (!erasedAnything) throw notFound(`a person ${id}${tenantId ? ` in tenant ${tenantId}` : ""}`);
    sendJson(res, 200, report);
  }));
}
