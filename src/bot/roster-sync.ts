/**
 * Reading who is in a conversation into the member directory: a team's or group chat's roster, or — after a
 * personal install — the person's own member record (their UPN and e-mail, so `users` audiences by UPN find
 * people who are in no team Herald knows). The bot only schedules it (a work item in the tenant's delivery
 * partition, written during the install turn); the partition's owner runs it, paced with every other request to
 * that tenant, so one tenant's budget is spent by one process. A read interrupted by a crash or a handover runs
 * again from the start (member upserts are idempotent).
 */
import type { TeamsChannelAccount } from "botbuilder";
import { partitionOf } from "../cluster/partitions";
import type { Logger } from "../logger";
import type { HeraldStore, WorkItem } from "../store/types";
import { classifyTeamsError } from "../delivery/teams-errors";
import { memberFromAccount } from "./member-record";

const MEMBER_PAGE_SIZE = 500;

export interface RosterWork {
  /** The target key of the conversation (the membership source). */
  sourceKey: string;
  tenantId: string;
  serviceUrl: string;
  conversationId: string;
  /** A personal chat's person: read only their member record. */
  userId?: string;
}

/** Reads one page of a conversation's roster (the delivery engine's, so it is paced with every other request). */
export type RosterReader = (serviceUrl: string, tenantId: string, conversationId: string, pageSize: number, continuationToken?: string) =>
  Promise<{ members: TeamsChannelAccount[]; continuationToken?: string }>;

/** Reads one member of a conversation (the engine's, paced like every connector call). */
export type MemberReader = (serviceUrl: string, tenantId: string, conversationId: string, userId: string) => Promise<TeamsChannelAccount>;

export function rosterWorkItem(work: RosterWork, partitionCount: number): Omit<WorkItem, "createdAt"> {
  return { partition: partitionOf(work.tenantId, partitionCount), kind: "roster", id: work.conversationId, data: { ...work } };
}

/** The work handler: pages through the roster (Teams' paged members API, 500 a page) into the member directory. */
export function createRosterSync(
  store: HeraldStore,
  readers: { roster: RosterReader; member: MemberReader },
  logger: Logger,
): (item: WorkItem) => Promise<void> {
  const sync = async (item: WorkItem): Promise<void> => {
    const { sourceKey, tenantId, serviceUrl, conversationId, userId } = item.data as unknown as RosterWork;
    if (!(await store.targets.get(sourceKey))) return; // uninstalled meanwhile: nothing to read
    if (userId) {
      const member = await readers.member(serviceUrl, tenantId, conversationId, userId);
      await store.members.upsertMembers(sourceKey, [{ ...memberFromAccount(member, tenantId, serviceUrl), userId, personalConversationId: conversationId }]);
      return;
    }
    const readRoster = readers.roster;
    let continuationToken: string | undefined;
    let count = 0;
    do {
      const page = await readRoster(serviceUrl, tenantId, conversationId, MEMBER_PAGE_SIZE, continuationToken);
      await store.members.upsertMembers(sourceKey, page.members.map((m) => memberFromAccount(m, tenantId, serviceUrl)));
      count += page.members.length;
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
    logger.info({ target: sourceKey, members: count }, "member directory synced");
  };
  return async (item) => {
    try {
      await sync(item);
    } catch (error) {
      // Teams refused for good (403, 404, …): the install is recorded and members are filled in as they are added
      // (backfill-members can retry). Anything transient is thrown, and the work item is tried again later.
      const outcome = classifyTeamsError(error).outcome;
      if (outcome !== "failed" && outcome !== "gone") throw error;
      logger.warn({ target: (item.data as { sourceKey?: string }).sourceKey, err: error instanceof Error ? error.message : String(error) },
        "could not read the members; giving up on this read");
    }
  };
}
