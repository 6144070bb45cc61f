/**
 * Teams' Bot Connector throttling policy: per-thread windows for send and roster reads, per-tenant windows for
 * creating conversations, and a global per-tenant requests-per-second cap over every call.
 *
 * Counting rule: only requests the limiter lets through are counted. A 429 does not use up a slot, so a
 * client that waits Retry-After is accepted again, as Teams behaves.
 */
import { MEMBERS_WINDOWS, SEND_WINDOWS, SlidingWindowLimiter, scaledWindows } from "./sliding-window";

export type LimitedRoute = "send" | "create" | "members" | "other";

export interface LimitVerdict {
  ok: boolean;
  retryAfterMs: number;
  /** Which limiter refused: "global", "send", "create" or "members", plus the window. */
  reason?: string;
}

export class ConnectorLimits {
  private readonly send: SlidingWindowLimiter;
  private readonly create: SlidingWindowLimiter;
  private readonly members: SlidingWindowLimiter;
  private readonly global: SlidingWindowLimiter;

  constructor(private readonly timeScale: number, globalPerSecond: number) {
    this.send = new SlidingWindowLimiter(scaledWindows(SEND_WINDOWS, timeScale));
    this.create = new SlidingWindowLimiter(scaledWindows(SEND_WINDOWS, timeScale));
    this.members = new SlidingWindowLimiter(scaledWindows(MEMBERS_WINDOWS, timeScale));
    this.global = new SlidingWindowLimiter(scaledWindows([[globalPerSecond, 1]], timeScale));
  }

  /**
   * Check and, when accepted, count one request. `routeKey` is the thread (send/members, without
   * ";messageid=") or the tenant (create).
   */
  take(route: LimitedRoute, routeKey: string, tenantId: string, now: number): LimitVerdict {
    const globalKey = tenantId;
    const g = this.global.check(globalKey, now);
    const limiter = this.limiterFor(route);
    const r = limiter ? limiter.check(routeKey, now) : { ok: true, retryAfterMs: 0, window: undefined };
    if (!g.ok || !r.ok) {
      const globalWorse = !g.ok && g.retryAfterMs >= r.retryAfterMs;
      return {
        ok: false,
        retryAfterMs: Math.max(g.retryAfterMs, r.retryAfterMs),
        reason: globalWorse ? `global ${g.window}` : `${route} ${r.window}`,
      };
    }
    this.global.record(globalKey, now);
    limiter?.record(routeKey, now);
    return { ok: true, retryAfterMs: 0 };
  }

  /** Count a request that bypassed the check (a fault with `deliverAnyway`: Teams did accept it). */
  count(route: LimitedRoute, routeKey: string, tenantId: string, now: number): void {
    this.global.record(tenantId, now);
    this.limiterFor(route)?.record(routeKey, now);
  }

  /**
   * Retry-After value in seconds: whole seconds at timeScale 1 (as Teams sends), otherwise whole *scaled*
   * seconds (e.g. "0.1", "0.7" at timeScale 0.1). Always at least the real wait and never 0.
   */
  retryAfterHeader(retryAfterMs: number): string {
    const unitMs = 1000 * this.timeScale;
    const units = Math.max(1, Math.ceil(retryAfterMs / unitMs));
    if (this.timeScale === 1) return String(units);
    return String(Number((units * this.timeScale).toFixed(6)));
  }

  clear(): void {
    this.send.clear();
    this.create.clear();
    this.members.clear();
    this.global.clear();
  }

  private limiterFor(route: LimitedRoute): SlidingWindowLimiter | undefined {
    switch (route) {
      case "send": return this.send;
      case "create": return this.create;
      case "members": return this.members;
      default: return undefined;
    }
  }
}
