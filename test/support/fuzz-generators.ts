/**
 * Generators for the trust-boundary fuzzing (test/fuzz): request bodies for POST /api/notifications and mutations of
 * Teams activities for POST /api/messages, biased towards the values that break parsers and type assumptions.
 */
import fc from "fast-check";

const nasty = fc.constantFrom(
  "", " ", "\u0000", "\ud800", "null", "undefined", "__proto__", "constructor", "prototype", "NaN", "-1", "1e309",
  "'; DROP TABLE targets; --", "<script>alert(1)</script>", "${{secrets}}", "%00%2e%2e/", "../../etc/passwd",
  "\u202e\u0645", "🎉".repeat(50), "x".repeat(5000), "a:1b", "29:1x", "19:x@thread.tacv2", "_tenant-contoso_19:x",
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), nasty);
const json = fc.jsonValue({ maxDepth: 3 });
/** Any value a JSON field can hold, biased to the troublesome ones. */
const anyValue = fc.oneof(
  { arbitrary: text, weight: 3 },
  { arbitrary: json, weight: 3 },
  { arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER, [], {}), weight: 2 },
  { arbitrary: fc.array(json, { maxLength: 4 }), weight: 1 },
);

// ---------------------------------------------------------------------------------- /api/notifications

export function notificationBodies(known: { teamId: string; aad: string; upn: string; userId: string; conversationId: string }) {
  const tenantId = fc.option(fc.constantFrom("tenant-contoso", "TENANT-CONTOSO", "tenant-fabrikam"), { freq: 2, nil: undefined });
  const userRef = fc.oneof(
    fc.record({ aadObjectId: fc.constantFrom(known.aad, "00000000-0000-0000-0000-000000000000") }),
    fc.record({ upn: fc.constantFrom(known.upn, known.upn.toUpperCase(), "nobody@contoso.com") }),
    fc.record({ userId: fc.constantFrom(known.userId, "29:1unknown") }),
  );
  /** A well-formed audience of each kind (what Herald accepts), before any mutation. */
  const audience = fc.oneof(
    fc.record({ kind: fc.constant("all"), tenantId }, { requiredKeys: ["kind"] }),
    fc.record({ kind: fc.constant("installations"), types: fc.subarray(["personal", "groupChat", "channel"], { minLength: 1 }), tenantId }, { requiredKeys: ["kind", "types"] }),
    fc.record({ kind: fc.constant("teamMembers"), teamId: fc.constantFrom(known.teamId, "19:unknown@thread.tacv2"), tenantId }, { requiredKeys: ["kind", "teamId"] }),
    fc.record({ kind: fc.constant("channelThread"), teamId: fc.constant(known.teamId), tenantId }, { requiredKeys: ["kind", "teamId"] }),
    fc.record({ kind: fc.constant("users"), users: fc.array(userRef, { minLength: 1, maxLength: 4 }), tenantId }, { requiredKeys: ["kind", "users"] }),
    fc.record({
      kind: fc.constant("conversations"), tenantId,
      conversationIds: fc.array(fc.constantFrom(known.conversationId, `_tenant-contoso_${known.conversationId}`, "_tenant-fabrikam_a:x", "19:unknown"), { minLength: 1, maxLength: 3 }),
    }, { requiredKeys: ["kind", "conversationIds"] }),
  );
  const valid = fc.record({
    title: fc.string({ minLength: 1, maxLength: 60 }),
    text: fc.string({ minLength: 1, maxLength: 200 }),
    url: fc.oneof(fc.constantFrom("https://ci.example.com/1043", "http://status.contoso.com/x?y=1#z"), fc.webUrl()),
    card: fc.record({ template: fc.constantFrom("notification", "alert", "welcome", "nope"), data: fc.dictionary(fc.string({ maxLength: 10 }), json, { maxKeys: 4 }) }),
    idempotencyKey: fc.string({ minLength: 1, maxLength: 20 }),
    audience,
    category: fc.constantFrom("general", "builds", "weekly digest"),
    source: fc.string({ minLength: 1, maxLength: 40 }),
    installIfMissing: fc.boolean(),
  }, { requiredKeys: ["title", "text"] });
  const path = fc.oneof(
    { arbitrary: fc.constantFrom(...NOTIFICATION_PATHS), weight: 9 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 12 }), weight: 1 },
  );
  const mutated = fc.tuple(valid, fc.array(fc.tuple(path, fc.oneof(anyValue, fc.constant<typeof DELETE>(DELETE))), { maxLength: 2 }))
    .map(([body, mutations]) => {
      for (const [p, value] of mutations) setPath(body as Record<string, unknown>, p, value);
      return JSON.stringify(body);
    });
  const body = fc.oneof(
    { arbitrary: mutated, weight: 8 },
    { arbitrary: json.map((b) => JSON.stringify(b)), weight: 1 },
    { arbitrary: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom("{", "{\"title\":", "[1,", "\u0000", "{}}")), weight: 1 },
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8", "application/vnd.api+json"), weight: 12 },
    { arbitrary: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", undefined), weight: 1 },
  );
  return fc.record({ body, contentType });
}

const NOTIFICATION_PATHS = [
  "title", "text", "url", "card", "card.template", "card.data", "card.extra", "idempotencyKey", "audience", "audience.kind",
  "audience.types", "audience.types.0", "audience.teamId", "audience.channelId", "audience.users", "audience.users.0",
  "audience.users.0.upn", "audience.users.0.aadObjectId", "audience.conversationIds", "audience.conversationIds.0",
  "audience.tenantId", "category", "source", "installIfMissing",
];

// -------------------------------------------------------------------------------------- /api/messages

export const DELETE = Symbol("delete");
const ACTIVITY_PATHS = [
  "type", "id", "channelId", "serviceUrl", "timestamp", "localTimestamp", "localTimezone", "locale", "expiration",
  "from", "from.id", "from.name", "from.aadObjectId", "recipient", "recipient.id", "conversation", "conversation.id",
  "conversation.conversationType", "conversation.tenantId", "conversation.isGroup", "channelData", "channelData.tenant",
  "channelData.tenant.id", "channelData.team", "channelData.team.id", "channelData.team.name", "channelData.channel",
  "channelData.channel.id", "channelData.eventType", "channelData.settings", "channelData.source", "text", "textFormat",
  "action", "name", "value", "value.herald", "value.category", "entities", "entities.0", "entities.0.type",
  "entities.0.timezone", "entities.0.locale", "entities.1", "entities.1.mentioned", "entities.1.text", "attachments",
  "attachments.0", "membersAdded", "membersAdded.0", "membersAdded.0.id", "membersRemoved", "membersRemoved.0.id",
  "replyToId", "deliveryMode", "relatesTo", "callerId",
];

export function activityMutations(known: { serviceUrl: string; ids: string[] }) {
  const typed: Record<string, fc.Arbitrary<unknown>> = {
    type: fc.constantFrom("message", "conversationUpdate", "installationUpdate", "invoke", "event", "messageReaction", "typing", "endOfConversation", "messageUpdate", "messageDelete", "trace", "handoff"),
    serviceUrl: fc.constantFrom(known.serviceUrl, `${known.serviceUrl}/`, `${known.serviceUrl}/elsewhere/`),
    "conversation.conversationType": fc.constantFrom("personal", "groupChat", "channel", "meeting"),
    "conversation.tenantId": fc.constantFrom("tenant-contoso", "tenant-fabrikam", "TENANT-CONTOSO"),
    "channelData.tenant.id": fc.constantFrom("tenant-contoso", "tenant-fabrikam"),
    "channelData.eventType": fc.constantFrom("teamDeleted", "teamRestored", "teamRenamed", "teamMemberAdded", "teamMemberRemoved", "channelCreated", "channelDeleted", "teamArchived", "teamHardDeleted"),
    action: fc.constantFrom("add", "remove", "add-upgrade", "remove-upgrade"),
    text: fc.constantFrom("help", "stop", "stop builds", "start", "status", "STOP everything", `stop ${"x".repeat(300)}`),
    name: fc.constantFrom("adaptiveCard/action", "composeExtension/query", "task/fetch", "signin/verifyState", "healthCheck", "config/fetch"),
    "value.herald": fc.constantFrom("optout", "help", "other"),
    deliveryMode: fc.constantFrom("normal", "expectReplies", "notification"),
  };
  const idLike = fc.constantFrom(...known.ids);
  const mutation = fc.oneof(
    { arbitrary: fc.constantFrom(...ACTIVITY_PATHS).chain((path) => fc.tuple(fc.constant(path), fc.oneof(typed[path] ?? idLike, anyValue, fc.constant(DELETE)))), weight: 9 },
    { arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), anyValue), weight: 1 },
  );
  return fc.record({ base: fc.nat(), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) });
}

export function setPath(target: Record<string, any>, path: string, value: unknown): void {
  const keys = path.split(".");
  let node: any = target;
  for (const key of keys.slice(0, -1)) {
    if (node === null || typeof node !== "object") return; // an earlier mutation replaced the parent
    if (node[key] === null || typeof node[key] !== "object") node[key] = /^\d+$/.test(keys[keys.indexOf(key) + 1] ?? "") ? [] : {};
    node = node[key];
  }
  if (node === null || typeof node !== "object") return;
  const last = keys[keys.length - 1]!;
  if (value === DELETE) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

/** A string that parses as an http(s) URL must be the emulator's: the bot would answer there. */
export function keepOnLoopback(activity: Record<string, any>, serviceUrl: string): void {
  if (typeof activity.serviceUrl === "string" && /^\s*https?:/i.test(activity.serviceUrl) && !activity.serviceUrl.startsWith(serviceUrl)) {
    activity.serviceUrl = serviceUrl;
  }
}
