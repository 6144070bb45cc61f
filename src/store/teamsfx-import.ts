/**
 * Imports a TeamsFx `.notification.localstore.json` (key `_${tenantId}_${conversationId}` → ConversationReference)
 * into Herald's target store, so a bot that ran on TeamsFx keeps every installation when it moves to Herald.
 * Idempotent: a second run finds everything unchanged.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "../logger";
import { targetInputFromReference } from "./target-from-reference";
import type { HeraldStore, Target, TargetInput } from "./types";

export interface TeamsFxImportResult {
  imported: number;
  updated: number;
  unchanged: number;
  skipped: { key: string; reason: string }[];
}

/** Entries are written this many at a time (a network store pays a round trip per entry). */
const CONCURRENCY = 16;

export async function importTeamsFxStore(filePath: string, store: HeraldStore, logger: Logger): Promise<TeamsFxImportResult> {
  const entries = Object.entries(await readStoreFile(filePath));
  const result: TeamsFxImportResult = { imported: 0, updated: 0, unchanged: 0, skipped: [] };
  for (let i = 0; i < entries.length; i += CONCURRENCY) {
    const outcomes = await Promise.all(entries.slice(i, i + CONCURRENCY).map(([key, value]) => importEntry(store, key, value)));
    for (const [index, outcome] of outcomes.entries()) {
      if (typeof outcome === "string") result[outcome]++;
      else result.skipped.push({ key: entries[i + index]![0], reason: outcome.skipped });
    }
  }
  for (const s of result.skipped) logger.warn({ key: s.key, reason: s.reason }, "TeamsFx entry skipped");
  logger.info(
    { file: filePath, imported: result.imported, updated: result.updated, unchanged: result.unchanged, skipped: result.skipped.length },
    "TeamsFx store imported",
  );
  return result;
}

async function readStoreFile(filePath: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(filePath, "utf8");
  } catch (error) {
    throw new Error(`cannot read the TeamsFx store ${filePath}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`the TeamsFx store ${filePath} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`the TeamsFx store ${filePath} must be a JSON object of key → conversation reference`);
  }
  return parsed as Record<string, unknown>;
}

type Outcome = "imported" | "updated" | "unchanged" | { skipped: string };

async function importEntry(store: HeraldStore, key: string, value: unknown): Promise<Outcome> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { skipped: "not an object" };
  const input = targetInputFromReference(value);
  if ("error" in input) return { skipped: input.error };
  if (input.key !== key) {
    return { skipped: `key does not match the reference's tenant and conversation (expected ${input.key})` };
  }
  const existing = await store.targets.get(key);
  if (!existing) {
    const { created } = await store.targets.upsert(input);
    return created ? "imported" : "updated";
  }
  if (existing.status === "gone") {
    // Herald learned it cannot post there (uninstalled, blocked, deleted); an old TeamsFx file must not undo that.
    return { skipped: `already known to Herald as gone (${existing.goneReason ?? "unknown reason"}); not re-activated` };
  }
  if (sameAsStored(input, existing)) return "unchanged";
  await store.targets.upsert(input);
  return "updated";
}

/** True when upserting `input` would change nothing (merge semantics: only the fields it sets count). */
function sameAsStored(input: TargetInput, existing: Target): boolean {
  for (const [field, value] of Object.entries(input) as [keyof TargetInput, unknown][]) {
    if (field === "at" || value === undefined) continue;
    if (canonical(value) !== canonical(existing[field as keyof Target])) return false;
  }
  return true;
}

/** JSON with sorted object keys, so equal values compare equal whatever order a backend returns keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
