/** The tab's API for everyone: who am I, what did I receive, and my preferences. */
import type { Server } from "restify";
import { z } from "zod";
import { badRequest, sendJson } from "../api/errors";
import { readJsonBody } from "../api/json-body";
import { pageParams } from "../api/route";
import type { HeraldStore } from "../store/types";
import type { InboxItem, Me } from "./api-types";
import { EVERYTHING, readPreferences, setPreference } from "./preferences";
import type { PersonRoute } from "./tab-route";

const preferenceChange = z.object({
  category: z.string({ error: "category must be a string" }).regex(/^(\*|[A-Za-z0-9][A-Za-z0-9 _.-]{0,63})$/, "category must be \"*\" (everything) or a category name"),
  enabled: z.boolean({ error: "enabled must be true or false" }),
}).strict();

export function registerMyRoutes(server: Server, asPerson: PersonRoute, store: HeraldStore): void {
  server.get("/tab/api/me", asPerson(async (_req, res, person) => {
    const me: Me = { ...person };
    sendJson(res, 200, me);
  }));

  server.get("/tab/api/inbox", asPerson(async (req, res, person) => {
    const { limit, cursor } = pageParams(req, 50, 200);
    let page;
    try {
      page = await store.inbox.list(person.tid, person.oid, limit, cursor);
    } catch (error) {
      if ((error as Error).message === "invalid page cursor") throw badRequest("cursor", "is not a cursor this API returned");
      throw error;
    }
    const items: InboxItem[] = page.items.map((e) => ({
      id: `${e.jobId}/${e.placeKey}`, jobId: e.jobId, title: e.title, category: e.category, sentAt: e.sentAt, triggeredBy: e.triggeredBy, place: e.place,
      ...(e.url ? { url: e.url } : {}),
    }));
    sendJson(res, 200, { items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  }));

  server.get("/tab/api/preferences", asPerson(async (_req, res, person) => {
    sendJson(res, 200, await readPreferences(store, person));
  }));

  server.put("/tab/api/preferences", asPerson(async (req, res, person) => {
    const parsed = preferenceChange.safeParse(await readJsonBody(req));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badRequest(issue?.path.join(".") || "(body)", issue?.message ?? "invalid request");
    }
    await setPreference(store, person, parsed.data.category === EVERYTHING ? EVERYTHING : parsed.data.category, parsed.data.enabled);
    sendJson(res, 200, await readPreferences(store, person));
  }));
}
