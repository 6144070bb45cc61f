/**
 * Which rate windows a Bot Connector request counts against. Teams limits per bot per *thread* (a reply chain
 * "19:...;messageid=..." is its channel's thread), creating conversations per tenant, and every request per
 * tenant globally — so each request names its thread or create key plus its tenant key.
 */
import { TEAMS_MEMBERS_WINDOWS, TEAMS_SEND_WINDOWS, scaleWindows, type RateKey, type RateWindow } from "./rate-limiter";

export type RatePolicyName = "thread" | "create" | "members" | "tenant";

export function baseThreadId(conversationId: string): string {
  const i = conversationId.indexOf(";messageid=");
  return i < 0 ? conversationId : conversationId.slice(0, i);
}

export function tenantKey(tenantId: string): RateKey {
  return { policy: "tenant", id: tenantId };
}

/** Posting into an existing conversation. */
export function sendKeys(tenantId: string, conversationId: string): RateKey[] {
  return [{ policy: "thread", id: baseThreadId(conversationId) }, tenantKey(tenantId)];
}

/**
 * Creating a 1:1 conversation with `target.userId`, or a new thread in `target.channelId` (which also posts into
 * that channel). Teams counts creates per thread too: the 1:1 being created is the thread, so messaging every
 * member of a team is bounded by the tenant's global rate, not by 1,800 creates an hour.
 */
export function createKeys(tenantId: string, target: { channelId?: string; userId?: string }): RateKey[] {
  const thread = target.channelId ? baseThreadId(target.channelId) : `${tenantId}:${target.userId ?? ""}`;
  const keys: RateKey[] = [{ policy: "create", id: thread }, tenantKey(tenantId)];
  if (target.channelId) keys.push({ policy: "thread", id: baseThreadId(target.channelId) });
  return keys;
}

export function membersKeys(tenantId: string, conversationId: string): RateKey[] {
  return [{ policy: "members", id: baseThreadId(conversationId) }, tenantKey(tenantId)];
}

const SPACING_BURST = 4;

export interface PacingWindows {
  thread: RateWindow[];
  create: RateWindow[];
  members: RateWindow[];
}

/** Teams' documented policies, every window multiplied by `timeScale`; tenant = `perTenantPerSecond` per (scaled) second. */
export function teamsPolicies(perTenantPerSecond: number, timeScale = 1, windows?: Partial<PacingWindows>): Record<RatePolicyName, RateWindow[]> {
  return {
    thread: windows?.thread ?? scaleWindows(TEAMS_SEND_WINDOWS, timeScale),
    create: windows?.create ?? scaleWindows(TEAMS_SEND_WINDOWS, timeScale),
    members: windows?.members ?? scaleWindows(TEAMS_MEMBERS_WINDOWS, timeScale),
    // Teams' window plus a spacing of 4 requests per 4 × 0.9/n s. Without it the limiter admits a burst of n at
    // once, and a burst reaches Teams spread out by the client's own queueing, so the sliding window counts its
    // tail against the next second (429s). The spacing is 10% looser than n/s so that Teams' window, not the
    // spacing, binds in steady state; and it allows 4 at a time so that a timer firing late (a busy process) is
    // made up at once by the requests behind it, instead of lowering the rate.
    tenant: [
      { limit: perTenantPerSecond, ms: 1000 * timeScale },
      { limit: SPACING_BURST, ms: (SPACING_BURST * 900 * timeScale) / perTenantPerSecond, marginMs: 0 },
    ],
  };
}
