/**
 * Which rate windows a Bot Connector request counts against. Teams limits per bot per *thread* (a reply chain
 * "19:...;messageid=..." is its channel's thread), creating conversations per tenant, and every request per
 * tenant globally — so each request names its thread or create key plus its tenant key.
 */
import { TEAMS_MEMBERS_WINDOWS, TEAMS_SEND_WINDOWS, scaleWindows, type RateKey, type RateWindow } from "./rate-limiter";

export type RatePolicyName = "thread" | "create" | "members" | "tenant" | "graph";

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

/**
 * Installing Herald for a person through Microsoft Graph: Graph's budget, not the Bot Connector's, so the tenant's
 * 50/s is not spent on it (and the task runs in its own dispatch lane, `graphLane`).
 */
export function graphKeys(tenantId: string): RateKey[] {
  return [{ policy: "graph", id: tenantId }];
}

/** The dispatch lane of a tenant's Graph installs (lanes wait on their tenant's Bot Connector budget). */
export function graphLane(tenantId: string): string {
  return `graph:${tenantId}`;
}

const SPACING_BURST = 4;

export interface PacingWindows {
  thread: RateWindow[];
  create: RateWindow[];
  members: RateWindow[];
}

/**
 * Per-thread windows bind only on bursts into one conversation (a channel, a roster read of one team, a 1:1 getting
 * several alerts), where the request a window after the first one must not reach Teams before the first one's
 * window has passed *as Teams counts it*, by arrival. Two requests of a burst can reach Teams tens of ms further
 * apart than they left (the first one's connection set-up, a pause of the process, the network), so these windows
 * get a margin of 50 ms (or 1% of a long window) instead of the 1% the tenant's window has. It costs a burst on one
 * thread 5% of its pace and costs broadcasts nothing: each 1:1 is its own thread, and the tenant's window binds.
 */
const THREAD_ARRIVAL_MARGIN_MS = 50;

function withArrivalMargin(windows: RateWindow[], timeScale: number): RateWindow[] {
  return windows.map((w) => ({ ...w, marginMs: Math.max(THREAD_ARRIVAL_MARGIN_MS * timeScale, w.ms * 0.01) }));
}

/** Teams' documented policies, every window multiplied by `timeScale`; tenant = `perTenantPerSecond` per (scaled) second. */
export function teamsPolicies(
  perTenantPerSecond: number, timeScale = 1, windows?: Partial<PacingWindows>, graphInstallsPerSecond = 5,
): Record<RatePolicyName, RateWindow[]> {
  return {
    // Each install is a few Graph requests (install, find it, read its chat); Teams' Graph APIs allow tens per second
    // per app per tenant, so a handful of installs per second leaves room for everything else the app does in Graph.
    graph: [{ limit: Math.max(1, graphInstallsPerSecond), ms: 1000 * timeScale }],
    thread: windows?.thread ?? withArrivalMargin(scaleWindows(TEAMS_SEND_WINDOWS, timeScale), timeScale),
    create: windows?.create ?? withArrivalMargin(scaleWindows(TEAMS_SEND_WINDOWS, timeScale), timeScale),
    members: windows?.members ?? withArrivalMargin(scaleWindows(TEAMS_MEMBERS_WINDOWS, timeScale), timeScale),
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
