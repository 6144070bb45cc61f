import { createHash } from "node:crypto";

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The distinct `${{VAR}}` names in a piece of text, in order of appearance. */
export function placeholderNames(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]))];
}

/** Replaces every `${{VAR}}` in `text`; names `resolve` returns undefined for are left as they are. */
export function substitutePlaceholders(text: string, resolve: (name: string) => string | undefined): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => resolve(name) ?? whole);
}

/** Substitutes placeholders inside every string (keys untouched) of a parsed JSON value, so values need no escaping. */
export function substituteInJson<T>(value: T, resolve: (name: string) => string | undefined): T {
  if (typeof value === "string") return substitutePlaceholders(value, resolve) as T;
  if (Array.isArray(value)) return value.map((item) => substituteInJson(item, resolve)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteInJson(item, resolve)]),
    ) as T;
  }
  return value;
}

/** The distinct placeholder names inside the strings of a parsed JSON value. */
export function placeholderNamesInJson(value: unknown): string[] {
  return placeholderNames(JSON.stringify(value));
}

/** A stable GUID per name, so fake values differ between variables but not between runs. */
function fakeGuid(name: string): string {
  const hex = createHash("sha256").update(name).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A plausible stand-in for a variable that provisioning fills in (ids, domains, endpoints), or undefined for
 * variables whose value is chosen by people (for those an empty value is a real value, e.g. APP_NAME_SUFFIX).
 */
export function fakeValueFor(name: string): string | undefined {
  if (/_ID$/.test(name)) return fakeGuid(name);
  if (/DOMAIN$/.test(name)) return "herald.example.com";
  if (/(ENDPOINT|_URL)$/.test(name)) return "https://herald.example.com";
  return undefined;
}
