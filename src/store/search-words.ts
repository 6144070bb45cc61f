/**
 * How the member directory is searched, the same in every backend: a person matches when every word of the
 * query starts one of their words — from their name and the part of their UPN / e-mail before the '@' —
 * ignoring case and accents. The first word needs at least MIN_SEARCH_CHARS characters (the index is keyed by
 * a word's first characters, and one letter matches half a tenant).
 */
import type { Member } from "./types";

export const MIN_SEARCH_CHARS = 2;
const MAX_QUERY_WORDS = 5;

/** Lower-case, accents removed, split on anything that is not a letter or digit. */
export function normalizedWords(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** The words a member is found by (deduplicated). */
export function memberSearchWords(member: Pick<Member, "name" | "upn" | "email">): string[] {
  const local = (address: string | undefined) => address?.split("@")[0];
  return [...new Set([...normalizedWords(member.name), ...normalizedWords(local(member.upn)), ...normalizedWords(local(member.email))])];
}

/** The query's words, or [] when the query is too short to search. */
export function queryWords(text: string): string[] {
  const words = normalizedWords(text).slice(0, MAX_QUERY_WORDS);
  return words.length && words[0]!.length >= MIN_SEARCH_CHARS ? words : [];
}

export function matchesQuery(member: Pick<Member, "name" | "upn" | "email">, words: string[]): boolean {
  const own = memberSearchWords(member);
  return words.every((word) => own.some((w) => w.startsWith(word)));
}

/** Results order: by name (people without one last), then user id. */
export function compareByName(a: Member, b: Member): number {
  const an = a.name?.toLowerCase() ?? "\uffff";
  const bn = b.name?.toLowerCase() ?? "\uffff";
  if (an !== bn) return an < bn ? -1 : 1;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}
