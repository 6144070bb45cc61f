/**
 * Deterministic tenant generator: the same spec always yields the same ids, so a benchmark, the emulator
 * (possibly in another process) and the activity driver agree without exchanging state.
 */
import { createHash } from "node:crypto";
import type { SeededChannel, SeededGroupChat, SeededTeam, SeededTenant, SeededUser, TenantSpec } from "./types";

const GIVEN = ["Ada", "Ben", "Chloe", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lena",
  "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yara", "Zoe"];
const SURNAMES = ["Schmidt", "Okafor", "Nakamura", "Garcia", "Novak", "Johansson", "Rossi", "Kowalski", "Dubois",
  "Silva", "Murphy", "Yilmaz", "Chen", "Patel", "Andersen", "Moreau", "Fischer", "Kim", "Haddad", "Larsen"];
const DEFAULT_ZONES: Array<[zone: string, locale: string, country: string]> = [
  ["Europe/Berlin", "de-DE", "DE"],
  ["America/New_York", "en-US", "US"],
  ["Asia/Kolkata", "en-IN", "IN"],
  ["Europe/London", "en-GB", "GB"],
  ["America/Los_Angeles", "en-US", "US"],
  ["Australia/Sydney", "en-AU", "AU"],
  ["Asia/Tokyo", "ja-JP", "JP"],
];

function digest(input: string): Buffer {
  return createHash("sha256").update(input).digest();
}

function hex32(input: string): string {
  return digest(input).toString("hex").slice(0, 32);
}

/** A GUID-looking (version 4 layout) deterministic string. */
export function deterministicGuid(input: string): string {
  const h = digest(input).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[parseInt(h[16], 16) % 4]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Teams user id ("29:1" + opaque), unique per tenant and index. */
export function userIdFor(tenantId: string, index: number): string {
  return `29:1${digest(`user|${tenantId}|${index}`).toString("base64url").slice(0, 42)}`;
}

/**
 * The 1:1 conversation id between the bot and a user. Stable for a (tenant, user) pair, exactly as Teams
 * returns the same personal conversation every time it is "created".
 */
export function personalConversationIdFor(tenantId: string, userId: string): string {
  const a = digest(`personal|${tenantId}|${userId}`).toString("base64url");
  const b = digest(`personal2|${tenantId}|${userId}`).toString("base64url");
  return `a:1${a}${b.slice(0, 20)}`;
}

export function teamIdFor(tenantId: string, index: number): string {
  return `19:${hex32(`team|${tenantId}|${index}`)}@thread.tacv2`;
}

function channelIdFor(teamId: string, index: number): string {
  return `19:${hex32(`channel|${teamId}|${index}`)}@thread.tacv2`;
}

function groupChatIdFor(tenantId: string, index: number): string {
  return `19:${hex32(`chat|${tenantId}|${index}`)}@thread.v2`;
}

function makeUser(spec: TenantSpec, i: number, domain: string): SeededUser {
  const zones = spec.timeZones?.map((z): [string, string, string] => [z, "en-US", "US"]) ?? DEFAULT_ZONES;
  const [timeZone, locale, country] = zones[i % zones.length];
  const givenName = GIVEN[i % GIVEN.length];
  const surname = SURNAMES[Math.floor(i / GIVEN.length) % SURNAMES.length];
  const n = i + 1;
  const id = userIdFor(spec.tenantId, n);
  const upn = `user${n}@${domain}`.toLowerCase();
  return {
    tenantId: spec.tenantId,
    id,
    aadObjectId: deterministicGuid(`aad|${spec.tenantId}|${n}`),
    name: `${givenName} ${surname} ${n}`,
    givenName,
    surname,
    userPrincipalName: upn,
    email: upn,
    personalConversationId: personalConversationIdFor(spec.tenantId, id),
    timeZone,
    locale,
    country,
  };
}

/** Take `count` users starting at `offset`, wrapping around. */
function slice(users: SeededUser[], offset: number, count: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < count; k++) out.push(users[(offset + k) % users.length].id);
  return out;
}

/**
 * Build a tenant. Team j's roster starts at user (j * 7) so teams overlap but differ; team 0 and group chat 0
 * start at the first user. Users are numbered from 1 ("user1@...").
 */
export function seedTenant(spec: TenantSpec): SeededTenant {
  const domain = spec.domain ?? `${spec.tenantId}.example`;
  const needed = Math.max(
    spec.users,
    ...(spec.teams ?? []).map((t) => t.memberCount),
    ...(spec.groupChats ?? []).map((c) => c.memberCount),
  );
  const users: SeededUser[] = [];
  for (let i = 0; i < needed; i++) users.push(makeUser(spec, i, domain));

  const teams: SeededTeam[] = (spec.teams ?? []).map((t, j) => {
    const id = t.id ?? teamIdFor(spec.tenantId, j);
    const channels: SeededChannel[] = [{ id }];
    for (let c = 1; c < Math.max(1, t.channels ?? 1); c++) channels.push({ id: channelIdFor(id, c), name: `Channel ${c}` });
    return {
      tenantId: spec.tenantId,
      id,
      name: t.name,
      aadGroupId: t.aadGroupId ?? deterministicGuid(`group|${id}`),
      channels,
      memberIds: users.length ? slice(users, j * 7, t.memberCount) : [],
    };
  });

  const groupChats: SeededGroupChat[] = (spec.groupChats ?? []).map((c, j) => ({
    tenantId: spec.tenantId,
    id: groupChatIdFor(spec.tenantId, j),
    topic: c.topic,
    memberIds: users.length ? slice(users, j * 3, c.memberCount) : [],
  }));

  return { tenantId: spec.tenantId, users, teams, groupChats };
}
