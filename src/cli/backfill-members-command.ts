/**
 * `npm run herald -- backfill-members [--tenant ID] [--concurrency N]`: reads the member record (UPN, e-mail,
 * AAD object id) of every person who installed Herald in personal scope before Herald read it at install, so
 * that `users` audiences by UPN or e-mail find them. Reads go through the delivery engine's pacing (members
 * windows and the tenant's budget) with its retries. People whose record already has a UPN are left alone, so
 * running it again reads nobody twice. Prints one line per failure and the counts; exit 1 when any failed.
 */
import { parseArgs } from "node:util";
import type { TeamsChannelAccount } from "botbuilder";
import { memberFromAccount } from "../bot/member-record";
import { classifyTeamsError, describeFailure } from "../delivery/teams-errors";
import type { HeraldStore, Target } from "../store/types";

export const BACKFILL_USAGE = "usage: herald backfill-members [--tenant ID] [--concurrency N]";

/** Reads one member of a conversation, paced (DeliveryEngine.getMember). */
export type MemberLookup = (serviceUrl: string, tenantId: string, conversationId: string, userId: string) => Promise<TeamsChannelAccount>;

export interface BackfillDeps {
  store: HeraldStore;
  readMember: MemberLookup;
  out: (line: string) => void;
}

export interface BackfillResult {
  filled: number;
  alreadyKnown: number;
  failed: Array<{ key: string; reason: string }>;
  skipped: Array<{ key: string; reason: string }>;
}

const PAGE = 500;

export async function runBackfillMembersCommand(args: string[], deps: BackfillDeps): Promise<number> {
  const { values } = parseArgs({ args, options: { tenant: { type: "string" }, concurrency: { type: "string", default: "16" } }, strict: true });
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new Error("--concurrency must be a whole number from 1 to 256");

  const result = await backfillMembers(deps.store, deps.readMember, { tenantId: values.tenant, concurrency });
  for (const { key, reason } of result.skipped) deps.out(`skipped ${key}: ${reason}`);
  for (const { key, reason } of result.failed) deps.out(`failed  ${key}: ${reason}`);
  const total = result.filled + result.alreadyKnown + result.failed.length + result.skipped.length;
  deps.out(`${total} personal installation(s): filled ${result.filled}, already known ${result.alreadyKnown}, failed ${result.failed.length}, skipped ${result.skipped.length}`);
  return result.failed.length > 0 ? 1 : 0;
}

export async function backfillMembers(
  store: HeraldStore,
  readMember: MemberLookup,
  options: { tenantId?: string; concurrency?: number } = {},
): Promise<BackfillResult> {
  const result: BackfillResult = { filled: 0, alreadyKnown: 0, failed: [], skipped: [] };
  const work: Target[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.targets.list({ kind: "personal", status: "active", tenantId: options.tenantId }, PAGE, cursor);
    for (const target of page.items) {
      if (!target.userId) {
        result.skipped.push({ key: target.key, reason: "the stored conversation names no user" });
        continue;
      }
      const known = await store.members.get(target.tenantId, target.userId);
      if (known?.upn) result.alreadyKnown++;
      else work.push(target);
    }
    cursor = page.cursor;
  } while (cursor);

  // Several reads in flight, so that the engine's pacing, not one request's latency, sets the pace.
  let next = 0;
  const worker = async () => {
    while (next < work.length) {
      const target = work[next++];
      try {
        const account = await readMember(target.serviceUrl, target.tenantId, target.conversationId, target.userId!);
        const member = { ...memberFromAccount(account, target.tenantId, target.serviceUrl), userId: target.userId!, personalConversationId: target.conversationId };
        await store.members.upsertMembers(target.key, [member]);
        if (member.upn) result.filled++;
        else result.skipped.push({ key: target.key, reason: "Teams returned no UPN for this person" });
      } catch (error) {
        result.failed.push({ key: target.key, reason: describeFailure(classifyTeamsError(error)) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 16, work.length) }, worker));
  return result;
}
