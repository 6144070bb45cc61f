/** Roster reads as Teams answers them: one member by Teams or AAD id, and pagedmembers with clamped pages. */
import { errorReply, type Reply } from "./http-util";
import type { TeamsChannelAccount } from "./tenant-directory";

/** Microsoft's documented default page size for pagedmembers; requests are clamped to 50..500. */
export const DEFAULT_MEMBERS_PAGE_SIZE = 200;
export const MIN_MEMBERS_PAGE_SIZE = 50;
export const MAX_MEMBERS_PAGE_SIZE = 500;

export function memberReply(members: TeamsChannelAccount[], userId: string): Reply {
  const found = members.find((m) => m.id === userId || m.aadObjectId === userId);
  return found
    ? { status: 200, body: found }
    : errorReply(404, "MemberNotFoundInConversation", "The member is not part of the conversation.");
}

export function pagedMembersReply(all: TeamsChannelAccount[], query: URLSearchParams): Reply {
  const requested = Number(query.get("pageSize") ?? NaN);
  const pageSize = Number.isFinite(requested) && requested > 0
    ? Math.min(MAX_MEMBERS_PAGE_SIZE, Math.max(MIN_MEMBERS_PAGE_SIZE, Math.floor(requested)))
    : DEFAULT_MEMBERS_PAGE_SIZE;
  const token = query.get("continuationToken");
  let offset = 0;
  if (token) {
    // Opaque to clients; an offset inside so paging is stable while the roster is.
    const decoded = /^o:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
    if (!decoded) return errorReply(400, "BadArgument", "Invalid continuation token.");
    offset = Number(decoded[1]);
  }
  const next = offset + pageSize;
  const body: { members: TeamsChannelAccount[]; continuationToken?: string } = { members: all.slice(offset, next) };
  if (next < all.length) body.continuationToken = Buffer.from(`o:${next}`).toString("base64url");
  return { status: 200, body };
}
