/**
 * What Teams may send to /api/messages, as far as Herald reads it. Checked before anything else touches the
 * activity, so a malformed one is a 400 naming the field — never a crash inside botbuilder, TeamsFx or the bot,
 * and never a stored half-target. Unknown fields pass through untouched (Teams adds fields over time); the
 * fields Herald or botbuilder read must have the type they expect.
 */
import { z } from "zod";

const text = (name: string, max: number) =>
  z.string({ error: `${name} must be a string` }).max(max, `${name} is longer than ${max} characters`);
const required = (name: string, max: number) => text(name, max).min(1, `${name} must not be empty`);
/** Optional fields may be absent or null (Teams sends null for some of them). */
const optional = (name: string, max: number) => text(name, max).nullish();

const timestamp = (name: string) =>
  text(name, 64).refine((v) => !Number.isNaN(Date.parse(v)), `${name} must be an ISO 8601 date-time`).nullish();

const account = (name: string) => z.looseObject({
  id: required(`${name}.id`, 1024),
  name: optional(`${name}.name`, 1024),
  aadObjectId: optional(`${name}.aadObjectId`, 200),
  role: optional(`${name}.role`, 50),
}, { error: `${name} must be an object with an id` });

const serviceUrl = required("serviceUrl", 2048).refine((v) => {
  try {
    const url = new URL(v);
    return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "";
  } catch {
    return false;
  }
}, "serviceUrl must be an absolute http(s) URL");

const entity = z.looseObject({
  type: required("entities[].type", 200),
  text: optional("entities[].text", 10_000),
  mentioned: account("entities[].mentioned").nullish(),
  timezone: optional("entities[].timezone", 100),
  locale: optional("entities[].locale", 100),
}, { error: "each entity must be an object with a type" });

const idAndName = (name: string) => z.looseObject({
  id: optional(`${name}.id`, 1024),
  name: optional(`${name}.name`, 1024),
  aadGroupId: optional(`${name}.aadGroupId`, 200),
}, { error: `${name} must be an object` }).nullish();

const channelData = z.looseObject({
  tenant: z.looseObject({ id: optional("channelData.tenant.id", 200) }, { error: "channelData.tenant must be an object" }).nullish(),
  team: idAndName("channelData.team"),
  channel: idAndName("channelData.channel"),
  eventType: optional("channelData.eventType", 100),
}, { error: "channelData must be an object" });

/** Herald's own card buttons submit `{ herald, category }`; other values are not Herald's and pass through. */
const value = z.unknown().superRefine((v, ctx) => {
  if (typeof v !== "object" || v === null || Array.isArray(v) || !("herald" in v)) return;
  const { herald, category } = v as { herald: unknown; category?: unknown };
  if (typeof herald !== "string" || herald.length > 32) ctx.addIssue({ code: "custom", path: ["herald"], message: "value.herald must be a short string" });
  if (category !== undefined && category !== null && (typeof category !== "string" || category.length > 64)) {
    ctx.addIssue({ code: "custom", path: ["category"], message: "value.category must be a string of up to 64 characters" });
  }
}).optional();

export const inboundActivitySchema = z.looseObject({
  type: required("type", 64),
  id: optional("id", 1024),
  channelId: required("channelId", 100),
  serviceUrl,
  timestamp: timestamp("timestamp"),
  localTimestamp: timestamp("localTimestamp"),
  expiration: timestamp("expiration"),
  localTimezone: optional("localTimezone", 100),
  locale: optional("locale", 100),
  from: account("from"),
  recipient: account("recipient"),
  conversation: z.looseObject({
    id: required("conversation.id", 1024),
    conversationType: optional("conversation.conversationType", 50),
    tenantId: optional("conversation.tenantId", 200),
    isGroup: z.boolean({ error: "conversation.isGroup must be a boolean" }).nullish(),
    name: optional("conversation.name", 1024),
  }, { error: "conversation must be an object with an id" }),
  channelData: channelData.nullish(),
  text: optional("text", 100_000),
  textFormat: optional("textFormat", 50),
  action: optional("action", 100),
  name: optional("name", 200),
  replyToId: optional("replyToId", 1024),
  entities: z.array(entity, { error: "entities must be an array" }).max(100, "entities has more than 100 items").nullish(),
  attachments: z.array(z.looseObject({ contentType: optional("attachments[].contentType", 200) }, { error: "each attachment must be an object" }), { error: "attachments must be an array" })
    .max(100, "attachments has more than 100 items").nullish(),
  membersAdded: z.array(account("membersAdded[]"), { error: "membersAdded must be an array" }).max(10_000).nullish(),
  membersRemoved: z.array(account("membersRemoved[]"), { error: "membersRemoved must be an array" }).max(10_000).nullish(),
  value,
}, { error: "the body must be an activity (a JSON object)" });

export type InboundActivity = z.infer<typeof inboundActivitySchema>;

/** "field.path: message" of the first problem, for the 400 body. */
export function describeActivityError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid activity";
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  const message = issue.message;
  return path && !message.startsWith(path.replace(/\[\d+\]/g, "[]")) ? `${path}: ${message}` : message;
}
