/**
 * Reading a team's or group chat's roster into the member directory. The bot only schedules it (a work item in
 * the tenant's delivery partition, written during the install turn); the partition's owner runs it, paced with
 * every other request to that tenant, so one tenant's budget is spent by one process. A sync interrupted by a
 * crash or a handover runs again from the start (member upserts are idempotent).
 */
import type { TeamsChannelAccount } from "botbuilder";
import { partitionOf } from "../cluster/partitions";
import type { Logger } from "../logger";
import type { HeraldStore, MemberInput, WorkItem } from "../store/types";

const MEMBER_PAGE_SIZE = 500;

export interface RosterWork {
  /** The target key of the team or group chat (the membership source). */
  sourceKey: string;
  tenantId: string;
  serviceUrl: string;
  conversationId: string;
}

/** Reads one page of a conversation's roster (the delivery engine's, so it is paced with every other request). */
export type RosterReader = (serviceUrl: string, tenantId: string, conversationId: string, pageSize: number, continuationToken?: string) =>
  Promise<{ members: TeamsChannelAccount[]; continuationToken?: string }>;

export function rosterWorkItem(work: RosterWork, partitionCount: number): Omit<WorkItem, "createdAt"> {
  return { partition: partitionOf(work.tenantId, partitionCount), kind: "roster", id: work.conversationId, data: { ...work } };
}

/** The work handler: pages through the roster (Teams' paged members API, 500 a page) into the member directory. */
export function createRosterSync(store: HeraldStore, readRoster: RosterReader, logger: Logger): (item: WorkItem) => Promise<void> {
  return async (item) => {
    const { sourceKey, tenantId, serviceUrl, conversationId } = item.data as unknown as RosterWork;
    if (!(await store.targets.get(sourceKey))) return; // uninstalled meanwhile: nothing to read
    let continuationToken: string | undefined;
    let count = 0;
    do {
      const page = await readRoster(serviceUrl, tenantId, conversationId, MEMBER_PAGE_SIZE, continuationToken);
      await store.members.upsertMembers(sourceKey, page.members.map((m) => memberInput(m, tenantId, serviceUrl)));
      count += page.members.length;
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
    logger.info({ target: sourceKey, members: count }, "member directory synced");
  };
}

export function memberInput(
  m: { id: string; name?: string; aadObjectId?: string; userPrincipalName?: string; email?: string },
  tenantId: string,
  serviceUrl: string,
): MemberInput {
  return {
    tenantId,
    userId: m.id,
    serviceUrl,
    ...(m.aadObjectId ? { aadObjectId: m.aadObjectId } : {}),
    ...(m.userPrincipalName ? { upn: m.userPrincipalName.toLowerCase() } : {}),
    ...(m.email ? { email: m.email.toLowerCase() } : {}),
    ...(m.name ? { name: m.name } : {}),
  };
}
