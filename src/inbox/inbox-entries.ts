/**
 * What one sent delivery means for people's inboxes. A 1:1 message is one entry for its person. A post in a
 * group chat or a channel was received by everyone in that conversation: one entry per member the directory
 * knows for it at that moment (a channel's members are its team's), yielded page by page.
 */
import type { InboxEntry, InboxPlace } from "../store/inbox";
import type { Delivery, HeraldStore, Job, Member } from "../store/types";

const MEMBER_PAGE = 1000;

type Store = Pick<HeraldStore, "members" | "targets">;

export async function* inboxEntriesOf(store: Store, job: Job, delivery: Delivery): AsyncGenerator<InboxEntry[]> {
  const r = delivery.recipient;
  const entry = (personKey: string, placeKey: string, place: InboxPlace): InboxEntry => ({
    tenantId: r.tenantId,
    personKey,
    jobId: job.id,
    placeKey,
    place,
    title: job.content.title,
    category: job.category ?? "general",
    ...(job.content.url ? { url: job.content.url } : {}),
    triggeredBy: job.triggeredBy,
    sentAt: job.createdAt,
  });

  const channel = r.newThreadInChannel ?? (r.teamId && !r.userId ? r.teamId : undefined);
  if (channel) {
    if (!r.targetKey) return;
    const place: InboxPlace = { kind: "channel", channelId: channel, ...optional({ name: r.name, teamId: r.teamId, conversationId: r.conversationId }) };
    yield* fanOut(store, r.targetKey, (m) => entry(personKeyOf(m), delivery.recipientKey, place));
    return;
  }

  const person = await personalRecipient(store, delivery);
  if (person) {
    yield [entry(person, "personal", { kind: "personal", ...optional({ conversationId: r.conversationId }) })];
    return;
  }

  if (!r.targetKey) return;
  const target = await store.targets.get(r.targetKey);
  if (target?.kind !== "groupChat") return;
  const place: InboxPlace = { kind: "groupChat", ...optional({ name: target.name, conversationId: target.conversationId }) };
  yield* fanOut(store, target.key, (m) => entry(personKeyOf(m), delivery.recipientKey, place));
}

/** The person a 1:1 delivery reached, by Entra object id when Herald knows it. Undefined when not a 1:1. */
async function personalRecipient(store: Store, delivery: Delivery): Promise<string | undefined> {
  const r = delivery.recipient;
  if (r.userId) {
    if (r.aadObjectId) return r.aadObjectId;
    return (await store.members.get(r.tenantId, r.userId))?.aadObjectId ?? r.userId;
  }
  // Installed through Graph for someone Herald had never seen: `graph:<tenant>:<object id or upn>`.
  if (delivery.recipientKey.startsWith("graph:")) {
    if (r.aadObjectId) return r.aadObjectId;
    const upn = delivery.recipientKey.slice(`graph:${r.tenantId}:`.length);
    return (await store.members.find({ upn }, r.tenantId))?.aadObjectId;
  }
  return undefined;
}

async function* fanOut(store: Store, sourceKey: string, toEntry: (m: Member) => InboxEntry): AsyncGenerator<InboxEntry[]> {
  let cursor: string | undefined;
  do {
    const page = await store.members.listBySource(sourceKey, MEMBER_PAGE, cursor);
    if (page.items.length) yield page.items.map(toEntry);
    cursor = page.cursor;
  } while (cursor);
}

export function personKeyOf(member: Pick<Member, "aadObjectId" | "userId">): string {
  return member.aadObjectId ?? member.userId;
}

function optional<T extends Record<string, string | undefined>>(fields: T): Partial<Record<keyof T, string>> {
  const out: Partial<Record<keyof T, string>> = {};
  for (const [k, v] of Object.entries(fields)) if (v) out[k as keyof T] = v;
  return out;
}
