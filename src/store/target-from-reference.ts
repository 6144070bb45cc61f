/**
 * Turns a botbuilder ConversationReference (as captured by install/message activities, or as stored by TeamsFx)
 * into a TargetInput. Shared by the bot's install capture and the TeamsFx importer, so both produce the same
 * keys and fields.
 */
import type { ConversationReference } from "botbuilder";
import { targetKey, type TargetInput, type TargetKind } from "./types";

const KINDS: ReadonlySet<string> = new Set<TargetKind>(["personal", "groupChat", "channel"]);

/**
 * - kind comes from `conversation.conversationType` (personal / groupChat / channel);
 * - for a channel, TeamsFx stores the team's reference with the team id as `conversation.id`, so
 *   `teamId` = `channelId` = `conversation.id` (the team's General channel);
 * - a `;messageid=...` suffix (a reference taken from a thread reply) is dropped: a target is the conversation;
 * - for a personal chat, the user's ids and name come from `user`;
 * - `extra` wins over anything derived (e.g. teamName, timeZone, installedBy from the install activity),
 *   but the key is always `_${tenantId}_${conversationId}` of the result.
 */
export function targetInputFromReference(
  ref: Partial<ConversationReference>,
  extra: Partial<TargetInput> = {},
): TargetInput | { error: string } {
  if (!isObject(ref)) return { error: "not an object" };
  const conversation = ref.conversation;
  if (!isObject(conversation)) return { error: "no conversation" };
  if (typeof conversation.id !== "string" || conversation.id.trim() === "") return { error: "no conversation id" };
  if (typeof ref.serviceUrl !== "string" || ref.serviceUrl.trim() === "") return { error: "no serviceUrl" };
  const kind = conversation.conversationType;
  if (typeof kind !== "string" || !KINDS.has(kind)) {
    return { error: `unknown conversationType ${JSON.stringify(kind ?? null)} (expected personal, groupChat or channel)` };
  }
  const tenantId = extra.tenantId ?? conversation.tenantId;
  if (typeof tenantId !== "string" || tenantId.trim() === "") return { error: "no tenant id" };

  const conversationId = conversation.id.split(";messageid=")[0]!;
  const reference: Partial<ConversationReference> = structuredClone(ref);
  reference.conversation = { ...reference.conversation!, id: conversationId };

  const derived: Partial<TargetInput> = { locale: stringOrUndefined(ref.locale) };
  if (kind === "personal") {
    derived.userId = stringOrUndefined(ref.user?.id);
    derived.aadObjectId = stringOrUndefined(ref.user?.aadObjectId);
    derived.name = stringOrUndefined(ref.user?.name);
  } else {
    derived.name = stringOrUndefined(conversation.name);
  }
  if (kind === "channel") {
    derived.teamId = conversationId;
    derived.channelId = conversationId;
  }

  const input: TargetInput = {
    ...withoutUndefined(derived),
    kind: kind as TargetKind,
    tenantId,
    conversationId,
    serviceUrl: ref.serviceUrl,
    reference,
    ...withoutUndefined(extra),
    key: "",
  };
  input.key = targetKey(input.tenantId, input.conversationId);
  return input;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
