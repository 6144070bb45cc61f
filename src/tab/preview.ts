/**
 * The composer's live preview: the Adaptive Card exactly as the bot will send it — the same template, the same
 * "why you get this" and "Stop these" footer (src/cards/notification-card.ts) — for a representative recipient
 * of the chosen audience. The browser renders it with the Adaptive Cards JS renderer.
 */
import { buildNotificationCard } from "../cards/notification-card";
import type { AdaptiveCard } from "../cards/render";
import type { DeliveryRecipient, Job } from "../store/types";

export interface PreviewInput {
  title?: string;
  text?: string;
  url?: string;
  category?: string;
  card?: { template: string; data: Record<string, unknown> };
  audience?: Record<string, unknown>;
  /** The team's name, for "You get this because you are a member of the team …". */
  teamName?: string;
}

export function previewCard(input: PreviewInput, sender: string, now: Date = new Date()): AdaptiveCard {
  const audience = input.audience ?? { kind: "all" };
  const job: Job = {
    id: "preview",
    status: "queued",
    contentVersion: 1,
    content: {
      title: input.title?.trim() || "Title",
      text: input.text?.trim() || "What happened, the result, and what the reader can do.",
      ...(input.url ? { url: input.url } : {}),
      ...(input.card ? { card: input.card } : {}),
    },
    audience,
    category: input.category?.trim() || "general",
    triggeredBy: sender,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    total: 1,
    throttleRetries: 0,
    slices: [],
  };
  return buildNotificationCard(job, sampleRecipient(audience, input.teamName));
}

/** A recipient like the ones the audience resolves to (audience.ts), so the footer reads as it will. */
function sampleRecipient(audience: Record<string, unknown>, teamName: string | undefined): DeliveryRecipient {
  const base = { tenantId: "preview", serviceUrl: "https://smba.trafficmanager.net/teams/" };
  switch (audience.kind) {
    case "teamMembers":
      return { ...base, userId: "29:preview", ...(teamName ? { name: teamName } : {}) };
    case "channelThread":
      return { ...base, teamId: String(audience.teamId ?? "team"), newThreadInChannel: String(audience.channelId ?? audience.teamId ?? "team"), ...(teamName ? { name: teamName } : {}) };
    case "installations": {
      const types = Array.isArray(audience.types) ? audience.types : [];
      if (types.includes("personal")) return { ...base, userId: "29:preview", conversationId: "a:preview" };
      if (types.includes("channel")) return { ...base, teamId: "team", conversationId: "team", ...(teamName ? { name: teamName } : {}) };
      return { ...base, conversationId: "19:preview@thread.v2" };
    }
    default:
      return { ...base, userId: "29:preview", conversationId: "a:preview" };
  }
}
