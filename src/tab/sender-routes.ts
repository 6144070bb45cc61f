/**
 * The tab's API for senders: recent notifications with live progress, the per-recipient report, cancel, compose
 * and send (the same request and audiences as POST /api/notifications, within the sender's tenant), the card
 * preview, and the member directory to choose people, teams, channels and chats.
 */
import type { Server } from "restify";
import { ApiError, badRequest, notFound, sendJson } from "../api/errors";
import { readJsonBody } from "../api/json-body";
import { pageParams } from "../api/route";
import { isKnownTemplate, listTemplates } from "../cards/render";
import { describeValidationError, notificationRequestSchema } from "../delivery/notification-request";
import { RequestError, type NotificationService } from "../delivery/notification-service";
import type { Delivery, DeliveryStatus, HeraldStore, Job, Target } from "../store/types";
import type { Channel, Conversation, DeliveryRow, Person } from "./api-types";
import { previewCard } from "./preview";
import { progressOf } from "./progress";
import type { TabPerson } from "./tab-identity";
import type { PersonRoute } from "./tab-route";

export interface SenderRouteDeps {
  store: HeraldStore;
  notifications: NotificationService;
  /** A team's channels, from Teams (optional: without it the composer offers the General channel only). */
  teamChannels?: (team: Target) => Promise<Array<{ id: string; name?: string }>>;
}

const DELIVERY_STATUSES: DeliveryStatus[] = ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"];
/** The tab sends as the signed-in person: `source` (who the card says sent it) is not the sender's to choose. */
const composeSchema = notificationRequestSchema.omit({ source: true });
/** Deliveries looked at per report request when filtering by reason. */
const REASON_SCAN = 5000;

export function registerSenderRoutes(server: Server, asSender: PersonRoute, deps: SenderRouteDeps): void {
  const { store, notifications } = deps;

  const jobInTenant = async (id: string, person: TabPerson): Promise<Job> => {
    const job = await store.jobs.getJob(id);
    if (!job || !visibleTo(job, person)) throw notFound(`notification ${id}`);
    return job;
  };

  server.get("/tab/api/notifications", asSender(async (req, res, person) => {
    const { limit, cursor } = pageParams(req, 20, 100);
    const page = await store.jobs.listJobs(limit, cursor);
    const now = new Date();
    const items = await Promise.all(page.items.filter((job) => visibleTo(job, person)).map(async (job) => progressOf((await notifications.report(job.id))!, now)));
    sendJson(res, 200, { items, ...(page.cursor ? { cursor: page.cursor } : {}) });
  }));

  server.get("/tab/api/notifications/:id", asSender(async (req, res, person) => {
    const job = await jobInTenant(String(req.params.id), person);
    sendJson(res, 200, progressOf((await notifications.report(job.id))!));
  }));

  server.get("/tab/api/notifications/:id/deliveries", asSender(async (req, res, person) => {
    const job = await jobInTenant(String(req.params.id), person);
    const { limit, cursor } = pageParams(req, 100, 500);
    const status = req.query?.status as string | undefined;
    if (status !== undefined && !DELIVERY_STATUSES.includes(status as DeliveryStatus)) {
      throw badRequest("status", `must be one of ${DELIVERY_STATUSES.join(", ")}`);
    }
    const reason = String(req.query?.reason ?? "").trim().toLowerCase();
    // Reasons are free text ("opted out", "gone: ConversationNotFound" …): filtered store page by store page, at
    // most REASON_SCAN deliveries per request; the cursor continues where the store left off (a page may hold
    // up to twice `limit` rows, never lose one).
    const matched: Delivery[] = [];
    let next = cursor;
    let scanned = 0;
    do {
      const page = await store.jobs.listDeliveries(job.id, limit, next, status as DeliveryStatus | undefined);
      scanned += page.items.length;
      for (const d of page.items) if (!reason || (d.reason ?? "").toLowerCase().includes(reason)) matched.push(d);
      next = page.cursor;
    } while (reason && next && matched.length < limit && scanned < REASON_SCAN);
    const rows = await Promise.all(matched.map((d) => deliveryRow(store, d)));
    sendJson(res, 200, { items: rows, ...(next ? { cursor: next } : {}) });
  }));

  server.post("/tab/api/notifications/:id/cancel", asSender(async (req, res, person) => {
    const job = await jobInTenant(String(req.params.id), person);
    const report = (await notifications.cancel(job.id))!;
    if (report.status !== "cancelled") throw new ApiError(409, "not_cancellable", `notification ${job.id} is already ${report.status}`);
    sendJson(res, 200, progressOf(report));
  }));

  server.post("/tab/api/notifications", asSender(async (req, res, person) => {
    const body = await readJsonBody(req);
    if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("(body)", "body must be a JSON object");
    const parsed = composeSchema.safeParse(body);
    if (!parsed.success) {
      const { field, message } = describeValidationError(parsed.error);
      throw badRequest(field, message);
    }
    // A sender reaches their own tenant only.
    const audience = { ...(parsed.data.audience ?? { kind: "all" }), tenantId: person.tid } as NonNullable<typeof parsed.data.audience>;
    try {
      const { job, created } = await notifications.create({ ...parsed.data, audience }, { triggeredBy: senderName(person) });
      sendJson(res, 202, { ...progressOf((await notifications.report(job.id))!), created });
    } catch (error) {
      if (error instanceof RequestError) throw badRequest(error.field, error.message);
      throw error;
    }
  }));

  server.post("/tab/api/preview", asSender(async (req, res, person) => {
    const body = (await readJsonBody(req)) as Record<string, unknown>;
    const card = body.card as { template?: unknown; data?: unknown } | undefined;
    if (card !== undefined) {
      if (typeof card?.template !== "string" || !isKnownTemplate(card.template)) {
        throw badRequest("card.template", `unknown template (known: ${listTemplates().join(", ")})`);
      }
      if (card.data !== undefined && (typeof card.data !== "object" || card.data === null || Array.isArray(card.data))) throw badRequest("card.data", "must be an object");
    }
    const text = (name: string) => (typeof body[name] === "string" ? (body[name] as string).slice(0, 20_000) : undefined);
    const audience = body.audience && typeof body.audience === "object" ? (body.audience as Record<string, unknown>) : undefined;
    let teamName: string | undefined;
    if (typeof audience?.teamId === "string") {
      teamName = (await store.targets.list({ kind: "channel", teamId: audience.teamId, tenantId: person.tid }, 1)).items[0]?.teamName;
    }
    const url = text("url");
    const rendered = previewCard({
      title: text("title"), text: text("text"), category: text("category"), audience, teamName,
      ...(url && /^https?:\/\//.test(url) ? { url } : {}),
      ...(card ? { card: { template: card.template as string, data: (card.data ?? {}) as Record<string, unknown> } } : {}),
    }, senderName(person));
    sendJson(res, 200, { card: rendered });
  }));

  server.get("/tab/api/directory/people", asSender(async (req, res, person) => {
    const q = String(req.query?.q ?? "");
    const members = await store.members.search(person.tid, q, 20);
    const items: Person[] = members.map((m) => ({ userId: m.userId, ...optional({ aadObjectId: m.aadObjectId, name: m.name, upn: m.upn }) }));
    sendJson(res, 200, { items });
  }));

  server.get("/tab/api/directory/conversations", asSender(async (req, res, person) => {
    const kind = String(req.query?.kind ?? "channel");
    if (kind !== "channel" && kind !== "groupChat") throw badRequest("kind", "must be channel or groupChat");
    const page = await store.targets.list({ kind, status: "active", tenantId: person.tid }, 500);
    const items: Conversation[] = page.items.map((t) => ({
      key: t.key, kind, ...optional({ name: kind === "channel" ? t.teamName ?? t.name : t.name, teamId: t.teamId }),
    }));
    sendJson(res, 200, { items });
  }));

  server.get("/tab/api/directory/teams/:teamId/channels", asSender(async (req, res, person) => {
    const teamId = String(req.params.teamId);
    const team = (await store.targets.list({ kind: "channel", teamId, tenantId: person.tid, status: "active" }, 1)).items[0];
    if (!team) throw notFound(`team ${teamId}`);
    let channels: Channel[] = [{ id: team.teamId ?? team.conversationId, name: "General" }];
    if (deps.teamChannels) {
      channels = (await deps.teamChannels(team)).map((c) => ({ id: c.id, name: c.name || (c.id === team.teamId ? "General" : c.id) }));
    }
    sendJson(res, 200, { items: channels });
  }));
}

/** Jobs that name another tenant are not this sender's to see; jobs for every tenant are (an organisation's bot). */
function visibleTo(job: Job, person: TabPerson): boolean {
  const tenant = job.audience.tenantId;
  return typeof tenant !== "string" || tenant.toLowerCase() === person.tid.toLowerCase();
}

function senderName(person: TabPerson): string {
  return `${person.name ?? person.upn ?? person.oid} (Herald tab)`;
}

async function deliveryRow(store: HeraldStore, d: Delivery): Promise<DeliveryRow> {
  const r = d.recipient;
  const isPerson = Boolean(r.userId) || /^(user|graph|unknown):/.test(d.recipientKey);
  const kind: DeliveryRow["kind"] = isPerson ? "person" : r.newThreadInChannel || r.teamId ? "channel" : "groupChat";
  let recipient = r.name ?? r.conversationId ?? d.recipientKey;
  if (isPerson) {
    const member = r.userId ? await store.members.get(r.tenantId, r.userId) : undefined;
    recipient = member?.name ?? member?.upn ?? r.userId ?? d.recipientKey.replace(/^(unknown|graph):[^:]*:/, "");
  }
  return {
    recipientKey: d.recipientKey, recipient, kind, status: d.status, attempts: d.attempts, updatedAt: d.updatedAt,
    ...(d.reason ? { reason: d.reason } : {}),
  };
}

function optional<T extends Record<string, string | undefined>>(fields: T): Partial<Record<keyof T, string>> {
  const out: Partial<Record<keyof T, string>> = {};
  for (const [k, v] of Object.entries(fields)) if (v) out[k as keyof T] = v;
  return out;
}
