/**
 * Erasure of one person (a GDPR request): their personal-chat installation, their rows in the member directory
 * (and its indexes), their stop/start preferences, and the personal data in past deliveries — ids, names and
 * conversation ids in each delivery's `recipient` — while every delivery row and so every count stays.
 *
 * Nothing here scans a whole table. The person is found through the member directory's indexes; memberships are
 * removed per team / group chat of their tenant; past deliveries are found per notification by the few recipient
 * keys that person can have (`user:<tenant>:<user id>`, their personal chat's target key, ...), each a point read.
 */
import type { Logger } from "../logger";
import type { Delivery, DeliveryRecipient, HeraldStore, Job, Member, UserRef } from "../store/types";
import { targetKey } from "../store/types";

export interface ErasureRequest {
  /** The person, by Entra object id, UPN / e-mail, or Teams user id. */
  ref: UserRef;
  /** Only in this tenant (else every tenant where the directory knows them). */
  tenantId?: string;
}

export interface ErasureReport {
  /** People (one per tenant) found in the member directory and removed from it. */
  peopleRemoved: number;
  /** Personal-chat installations removed. */
  targetsRemoved: number;
  /** Opt-out rows removed. */
  preferencesRemoved: number;
  /** Entries of their "My notifications" (the tab's inbox index) removed. */
  inboxEntriesRemoved: number;
  /** Past deliveries whose recipient data was erased (the rows and counts stay). */
  deliveriesScrubbed: number;
  /** Of those, deliveries still pending, now cancelled rather than sent to nobody. */
  deliveriesCancelled: number;
  notificationsExamined: number;
  /** Notifications whose request named the person in its audience (the request itself is kept as sent). */
  notificationsNamingPerson: string[];
}

/** Who the erasure is about, as far as the directory (or the request alone) tells. */
interface Person {
  tenantId?: string;
  userId?: string;
  aadObjectId?: string;
  upn?: string;
  email?: string;
  name?: string;
  personalConversationId?: string;
}

const PAGE = 200;
/** More than one person per identifier only through guests in several tenants; this bounds a runaway loop. */
const MAX_PEOPLE = 100;

export async function erasePerson(store: HeraldStore, request: ErasureRequest, logger?: Logger): Promise<ErasureReport> {
  const report: ErasureReport = {
    peopleRemoved: 0, targetsRemoved: 0, preferencesRemoved: 0, inboxEntriesRemoved: 0, deliveriesScrubbed: 0, deliveriesCancelled: 0,
    notificationsExamined: 0, notificationsNamingPerson: [],
  };
  const people: Person[] = [];
  for (let member = await store.members.find(request.ref, request.tenantId); member && people.length < MAX_PEOPLE;
    member = await store.members.find(request.ref, request.tenantId)) {
    people.push(personOf(member));
    await forgetMember(store, member, report);
  }
  if (people.length === 0) {
    // Not in the directory: what the request names may still be in preferences and past deliveries of a tenant.
    const fromRequest = { ...refFields(request.ref), ...(request.tenantId ? { tenantId: request.tenantId } : {}) };
    if (fromRequest.tenantId) {
      people.push(fromRequest);
      await forgetPreferences(store, fromRequest, report);
      await forgetInbox(store, fromRequest, report);
    }
  }
  if (people.length > 0) await scrubDeliveries(store, people, report);
  logger?.info({ ...report, notificationsNamingPerson: report.notificationsNamingPerson.length }, "person erased");
  return report;
}

async function forgetMember(store: HeraldStore, member: Member, report: ErasureReport): Promise<void> {
  const person = personOf(member);
  const tenantId = member.tenantId;
  // Memberships: every team and group chat of the tenant, then their personal chat (capture records it as a source).
  const personalKey = member.personalConversationId ? targetKey(tenantId, member.personalConversationId) : undefined;
  for (const kind of ["channel", "groupChat"] as const) {
    let cursor: string | undefined;
    do {
      const page = await store.targets.list({ tenantId, kind }, PAGE, cursor);
      for (const target of page.items) await store.members.removeMembership(target.key, [member.userId]);
      cursor = page.cursor;
    } while (cursor);
  }
  if (personalKey) {
    await store.members.removeMembership(personalKey, [member.userId]);
    const target = await store.targets.get(personalKey);
    if (target?.kind === "personal" && await store.targets.remove(personalKey)) report.targetsRemoved++;
  }
  if (await store.members.removePerson(tenantId, member.userId)) report.peopleRemoved++;
  await forgetPreferences(store, person, report);
  await forgetInbox(store, person, report);
}

/** The tab's inbox is keyed by the object id, or the Teams user id for people Herald knows no object id of. */
async function forgetInbox(store: HeraldStore, person: Person, report: ErasureReport): Promise<void> {
  if (!person.tenantId) return;
  for (const personKey of new Set([person.aadObjectId, person.userId].filter((k): k is string => Boolean(k)))) {
    report.inboxEntriesRemoved += await store.inbox.removePerson(person.tenantId, personKey);
  }
}

/** Opt-outs are keyed by the object id when Teams sent one, else by the Teams user id: both are tried. */
async function forgetPreferences(store: HeraldStore, person: Person, report: ErasureReport): Promise<void> {
  if (!person.tenantId) return;
  for (const userKey of new Set([person.aadObjectId, person.userId].filter((k): k is string => Boolean(k)))) {
    const rows = await store.preferences.list(person.tenantId, userKey);
    if (rows.length === 0) continue;
    await store.preferences.optIn(person.tenantId, userKey, "*");
    report.preferencesRemoved += rows.length;
  }
}

async function scrubDeliveries(store: HeraldStore, people: Person[], report: ErasureReport): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await store.jobs.listJobs(PAGE, cursor);
    for (const job of page.items) {
      report.notificationsExamined++;
      if (people.some((p) => audienceNames(job, p))) report.notificationsNamingPerson.push(job.id);
      for (const person of people) {
        for (const key of candidateKeys(job, person)) {
          const delivery = await store.jobs.getDelivery(job.id, key);
          if (delivery && holdsPersonalData(delivery.recipient)) await scrub(store, delivery, person, report);
        }
      }
    }
    cursor = page.cursor;
  } while (cursor);
}

async function scrub(store: HeraldStore, delivery: Delivery, person: Person, report: ErasureReport): Promise<void> {
  const recipient: DeliveryRecipient = { tenantId: delivery.recipient.tenantId, serviceUrl: delivery.recipient.serviceUrl };
  const pending = delivery.status === "pending";
  const reasonNamesThem = delivery.reason !== undefined && identifiers(person).some((id) => delivery.reason!.includes(id));
  await store.jobs.updateDelivery(delivery.jobId, delivery.recipientKey, {
    recipient,
    ...(pending ? { status: "cancelled", reason: "the recipient's data was erased" } : reasonNamesThem ? { reason: "(erased)" } : {}),
    // Who acknowledged is their display name; that it was acknowledged (and when) stays, like the counts.
    ...(delivery.acknowledgedBy ? { acknowledgedBy: "(erased)" } : {}),
  });
  report.deliveriesScrubbed++;
  if (pending) report.deliveriesCancelled++;
}

/**
 * The recipient keys one person can have in a notification, by its audience (the audience resolver's keys):
 * their personal chat's target key for installations and conversations, `user:` for team members and chosen
 * people, `graph:` / `unknown:` for chosen people installed through Graph or never seen. A channel thread is a
 * conversation, not a person.
 */
function candidateKeys(job: Job, p: Person): string[] {
  const kind = typeof job.audience.kind === "string" ? job.audience.kind : "all";
  const t = p.tenantId;
  if (!t || kind === "channelThread") return [];
  const personal = p.personalConversationId ? [targetKey(t, p.personalConversationId)] : [];
  const user = p.userId ? [`user:${t}:${p.userId}`] : [];
  const byGraph = [p.aadObjectId, p.upn].filter((v): v is string => Boolean(v)).map((v) => `graph:${t}:${v.toLowerCase()}`);
  const unknown = [
    ...(p.aadObjectId ? [`unknown:${t}:aad:${p.aadObjectId}`] : []),
    ...(p.upn ? [`unknown:${t}:upn:${p.upn.toLowerCase()}`] : []),
    ...(p.userId ? [`unknown:${t}:uid:${p.userId}`] : []),
  ];
  switch (kind) {
    case "all": case "installations": case "conversations": return personal;
    case "teamMembers": return user;
    case "users": return [...user, ...byGraph, ...unknown];
    default: return [...personal, ...user, ...byGraph, ...unknown];
  }
}

function audienceNames(job: Job, p: Person): boolean {
  if (job.audience.kind !== "users" || !Array.isArray(job.audience.users)) return false;
  return (job.audience.users as Array<Record<string, unknown>>).some((u) =>
    (p.aadObjectId !== undefined && u.aadObjectId === p.aadObjectId)
    || (p.upn !== undefined && typeof u.upn === "string" && u.upn.toLowerCase() === p.upn)
    || (p.userId !== undefined && u.userId === p.userId));
}

function holdsPersonalData(r: DeliveryRecipient): boolean {
  return Object.keys(r).some((k) => k !== "tenantId" && k !== "serviceUrl");
}

function identifiers(p: Person): string[] {
  return [p.userId, p.aadObjectId, p.upn, p.email, p.name, p.personalConversationId].filter((v): v is string => Boolean(v && v.length >= 3));
}

function personOf(m: Member): Person {
  return {
    tenantId: m.tenantId, userId: m.userId, aadObjectId: m.aadObjectId, upn: m.upn?.toLowerCase(), email: m.email,
    name: m.name, personalConversationId: m.personalConversationId,
  };
}

function refFields(ref: UserRef): Person {
  if ("aadObjectId" in ref) return { aadObjectId: ref.aadObjectId };
  if ("upn" in ref) return { upn: ref.upn.toLowerCase() };
  return { userId: ref.userId };
}

/** How a person is named on the command line or in the URL: an object id (GUID), a UPN / e-mail, or a Teams user id. */
export function parsePersonId(id: string): UserRef | undefined {
  const value = id.trim();
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return { aadObjectId: value };
  if (/^[^\s@]+@[^\s@]+$/.test(value) && value.length <= 320) return { upn: value.toLowerCase() };
  if (/^\d+:\S{1,300}$/.test(value)) return { userId: value };
  return undefined;
}
