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

export function renderTemplate(name: string, data: Record<string, unknown>): AdaptiveCard {
  const template = NOTIFICATION_TEMPLATES[name] ?? INTERNAL_TEMPLATES[name];
  if (!template) throw new Error(`unknown card template "${name}"`);
  return new ACData.Template(template).expand({ $root: data }) as AdaptiveCard;
}

export function listTemplates(): string[] {
  return Object.keys(NOTIFICATION_TEMPLATES);
}
