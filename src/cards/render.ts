/**
 * Adaptive Card templates (JSON files beside this module) expanded with adaptivecards-templating.
 * Templates are imported, not read from disk, so `tsc` ships them in dist/ and a missing one fails the build.
 */
import * as ACData from "adaptivecards-templating";
import alert from "./templates/alert.json";
import help from "./templates/help.json";
import notification from "./templates/notification.json";
import welcome from "./templates/welcome.json";

export type AdaptiveCard = { type: "AdaptiveCard"; body?: unknown[]; actions?: unknown[]; [key: string]: unknown };

/** Templates a caller may name in `card.template`. */
export const NOTIFICATION_TEMPLATES: Record<string, object> = { notification, alert };
const INTERNAL_TEMPLATES: Record<string, object> = { welcome, help };

export function isKnownTemplate(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(NOTIFICATION_TEMPLATES, name);
}

/**
 * Expanding a template parses every `${...}` expression again (1.5-7 ms a card), so a broadcast renders each
 * distinct (template, data) once and hands out copies: callers may change the copy they get.
 */
const CACHE_LIMIT = 256;
const expanded = new Map<string, AdaptiveCard>();

export function renderTemplate(name: string, data: Record<string, unknown>): AdaptiveCard {
  const template = NOTIFICATION_TEMPLATES[name] ?? INTERNAL_TEMPLATES[name];
  if (!template) throw new Error(`unknown card template "${name}"`);
  const key = `${name}\u0000${JSON.stringify(data)}`;
  let card = expanded.get(key);
  if (card) {
    expanded.delete(key); // keep recently used entries at the end of the Map's order
  } else {
    card = new ACData.Template(template).expand({ $root: data }) as AdaptiveCard;
    if (expanded.size >= CACHE_LIMIT) expanded.delete(expanded.keys().next().value!);
  }
  expanded.set(key, card);
  return structuredClone(card);
}

export function listTemplates(): string[] {
  return Object.keys(NOTIFICATION_TEMPLATES);
}
