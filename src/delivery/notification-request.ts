/**
 * The shape of "send this to these people" shared by every trigger: the HTTP API, schedules and the CLI.
 * Validation errors name the offending field, so the API can answer 400 with it.
 */
import { z } from "zod";

const nonEmpty = (name: string, max: number) =>
  z.string({ error: `${name} must be a string` }).trim().min(1, `${name} must not be empty`).max(max, `${name} is longer than ${max} characters`);

export const userRefSchema = z.union([
  z.object({ aadObjectId: nonEmpty("aadObjectId", 100) }).strict(),
  z.object({ upn: nonEmpty("upn", 320) }).strict(),
  z.object({ userId: nonEmpty("userId", 200) }).strict(),
], { error: "each user must be one of {aadObjectId}, {upn} or {userId}" });

const tenantId = nonEmpty("tenantId", 100).optional();

/** Absent audience = every active installation (the TeamsFx template's semantics). */
export const audienceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("all"), tenantId }).strict(),
  z.object({
    kind: z.literal("installations"),
    types: z.array(z.enum(["personal", "groupChat", "channel"])).min(1, "types must name at least one of personal, groupChat, channel"),
    tenantId,
  }).strict(),
  /** Every member of a team, each in their 1:1 chat with Herald ("message all members"). */
  z.object({ kind: z.literal("teamMembers"), teamId: nonEmpty("teamId", 200), tenantId }).strict(),
  /** A new thread in a channel of a team; channelId absent = the General channel. */
  z.object({ kind: z.literal("channelThread"), teamId: nonEmpty("teamId", 200), channelId: nonEmpty("channelId", 200).optional(), tenantId }).strict(),
  /** Chosen people, each in their 1:1 chat. */
  z.object({ kind: z.literal("users"), users: z.array(userRefSchema).min(1, "users must not be empty").max(10_000), tenantId }).strict(),
  /** Chosen conversations Herald is installed in. */
  z.object({ kind: z.literal("conversations"), conversationIds: z.array(nonEmpty("conversationId", 300)).min(1, "conversationIds must not be empty").max(10_000), tenantId }).strict(),
], { error: "audience.kind must be one of all, installations, teamMembers, channelThread, users, conversations" });

export type Audience = z.infer<typeof audienceSchema>;
export type UserRefInput = z.infer<typeof userRefSchema>;

export const notificationRequestSchema = z.object({
  title: nonEmpty("title", 300),
  text: nonEmpty("text", 20_000),
  url: z.url({ error: "url must be an absolute http(s) URL", protocol: /^https?$/ }).max(2048).optional(),
  card: z.object({
    template: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "card.template must be a template name such as \"notification\""),
    data: z.record(z.string(), z.unknown(), { error: "card.data must be an object" }),
  }).strict().optional(),
  idempotencyKey: nonEmpty("idempotencyKey", 200).optional(),
  audience: audienceSchema.optional(),
  /** Opt-out category (a topic or schedule name); people can stop one category or everything. */
  category: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/, "category must be 1-64 letters, digits, space, _ . -").optional(),
  /** Who or what triggered it, shown on the card ("Build pipeline", "HR system"). Defaults to the trigger. */
  source: nonEmpty("source", 100).optional(),
  /** Install Herald for chosen users who never installed it (Microsoft Graph), then deliver. */
  installIfMissing: z.boolean({ error: "installIfMissing must be a boolean" }).optional(),
  /** An Acknowledge button on the card; who pressed it is counted and listed, and `remind` reaches the others. */
  acknowledge: z.boolean({ error: "acknowledge must be a boolean" })
    .describe("Adds an Acknowledge button to the card; the report counts who acknowledged").optional(),
}).strict();

export type NotificationRequest = z.infer<typeof notificationRequestSchema>;

/** Limits who a scheduled "09:00 in each recipient's local time" run reaches: one time-zone group. */
export interface TimeZoneFilter {
  zones: string[];
  /** Recipients with no captured time zone belong to the default zone's group. */
  includeUnknown: boolean;
}

export interface TriggerMeta {
  /** "api", "schedule:<id>", "cli" — shown in the card ("why you get this") and the report. */
  triggeredBy: string;
  /** The authenticated caller ("key:<name>", "app:<client id>"), recorded on the notification. */
  createdBy?: string;
  timeZoneFilter?: TimeZoneFilter;
}

/** What every trigger calls. Implemented by NotificationService. */
export type Notify = (request: NotificationRequest, meta: TriggerMeta) => Promise<{ id: string; created: boolean }>;

/** Turns a zod error into "field.path: message" for a 400 body. */
export function describeValidationError(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue?.path.length ? issue.path.join(".") : "(body)";
  let message = issue?.message ?? "invalid request";
  if (issue?.code === "unrecognized_keys") message = `unknown field(s): ${issue.keys.join(", ")}`;
  return { field, message };
}
