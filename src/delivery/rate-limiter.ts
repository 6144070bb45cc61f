/**
 * Client-side pacing for the Bot Connector: sliding windows ("n requests per w ms"), several per key, many keys.
 *
 * A request names several keys at once (its thread, its tenant's global budget, ...) and is admissible only when
 * every window of every key has room. `nextAdmissible` says when that is; `take` records the request on all
 * its keys. Nothing here sleeps: the engine's scheduler decides what to run next from these answers, so a
 * delivery waiting for one busy thread never holds up the others.
 *
 * Why not a library: bottleneck and p-limit/p-throttle model one reservoir or one interval per limiter and
 * queue the work themselves; Teams needs four windows per thread plus a per-tenant window combined per
 * request, thousands of keys, and an answer ("when?") that a scheduler can order by. The core below is a
 * sorted timestamp deque per key — O(windows) per check — which is small enough to test exactly.
 *
 * Windows are half-open like Teams' (and the emulator's): a request at t counts in (t - ms, t]... until t + ms.
 * A safety margin is added to each window because the server timestamps a request when it *arrives*, and two
 * requests sent `ms` apart can arrive slightly less than `ms` apart.
 *
 * After a 429, `slowDown(key)` cuts that key's budget multiplicatively (factor × decrease, floor minFactor) and
 * it recovers additively (+recoverPerSecond of the full budget per second of Teams' time) — AIMD, as TCP does,
 * so a tenant whose real budget is smaller than documented (another app instance, another bot) converges to it.
 */

export interface RateWindow {
  /** Requests allowed per window. */
  limit: number;
  /** Window length in ms. */
  ms: number;
  /** Overrides the limiter's safety margin for this window (0 for Herald's own smoothing windows). */
  marginMs?: number;
}

export interface RateKey {
  /** Which window set applies ("thread", "create", "members", "tenant"). */
  policy: string;
  id: string;
}

export interface AimdOptions {
  /** Multiplier applied to a key's budget on each 429. Default 0.95. */
  decrease: number;
  /** Lowest factor the budget can fall to. Default 0.1. */
  minFactor: number;
  /** Fraction of the full budget regained per `recoverStepMs`. Default 0.05 (one 429 costs ~1 s at 95%). */
  recoverPerStep: number;
  /** Default 1000 ms (scale it with the windows in tests). */
  recoverStepMs: number;
}

export interface RateLimiterOptions {
  policies: Record<string, RateWindow[]>;
  /** Margin added to a window: max(minMarginMs, ms × marginFraction). Defaults 3 ms and 0.01. */
  minMarginMs?: number;
  marginFraction?: number;
  aimd?: Partial<AimdOptions>;
  /** How often idle keys are dropped (checked during `take`). Default 60 s. */
  sweepEveryMs?: number;
}

interface KeyState {
  windows: RateWindow[];
  /** Accepted request times, oldest first, from `head`. */
  times: number[];
  head: number;
  penaltyUntil: number;
  /** Budget factor right after the last slowDown, and when that was. */
  factor: number;
  factorAt: number;
}

const DEFAULT_AIMD: AimdOptions = { decrease: 0.95, minFactor: 0.1, recoverPerStep: 0.05, recoverStepMs: 1000 };

export class RateLimiter {
  private readonly keys = new Map<string, KeyState>();
  private readonly policies: Record<string, RateWindow[]>;
  private readonly minMarginMs: number;
  private readonly marginFraction: number;
  private readonly aimd: AimdOptions;
  private readonly sweepEveryMs: number;
  private lastSweep = 0;

  constructor(options: RateLimiterOptions) {
    this.policies = options.policies;
    for (const [name, windows] of Object.entries(options.policies)) {
      for (const w of windows) {
        if (!(w.limit >= 1 && w.ms > 0)) throw new Error(`rate policy ${name}: a window needs limit >= 1 and ms > 0`);
      }
    }
    this.minMarginMs = options.minMarginMs ?? 3;
    this.marginFraction = options.marginFraction ?? 0.01;
    this.aimd = { ...DEFAULT_AIMD, ...options.aimd };
    this.sweepEveryMs = options.sweepEveryMs ?? 60_000;
  }

  /** Earliest time (≥ now) at which one more request on all `keys` fits every window and no penalty applies. */
  nextAdmissible(keys: readonly RateKey[], now: number): number {
    let at = now;
    for (const key of keys) {
      const state = this.keys.get(this.id(key));
      if (!state) continue;
      at = Math.max(at, this.admissibleAt(state, now));
    }
    return at;
  }

  /** Record one request on every key at `now`. Callers check `nextAdmissible` first. */
  take(keys: readonly RateKey[], now: number): void {
    for (const key of keys) {
      const state = this.state(key);
      const last = state.times.length > state.head ? state.times[state.times.length - 1] : -Infinity;
      state.times.push(Math.max(now, last));
    }
    if (now - this.lastSweep >= this.sweepEveryMs) this.sweep(now);
  }

  /**
   * A request taken at `planned` actually left at `actual` (later: a timer fired late on a busy machine). Teams counts
   * it when it arrives, so the windows must too: otherwise a late first request of a window and an on-time last one
   * reach Teams within one window, one too many.
   */
  retime(keys: readonly RateKey[], planned: number, actual: number): void {
    if (!(actual > planned)) return;
    for (const key of keys) {
      const state = this.keys.get(this.id(key));
      if (!state) continue;
      const times = state.times;
      let i = times.lastIndexOf(planned);
      if (i < state.head) continue;
      // Move it forward, keeping the deque sorted.
      while (i + 1 < times.length && times[i + 1]! <= actual) {
        times[i] = times[i + 1]!;
        i++;
      }
      times[i] = actual;
    }
  }

  /** Teams said 429 on this key: admit nothing on it before `untilMs`. */
  penalize(key: RateKey, untilMs: number): void {
    const state = this.state(key);
    state.penaltyUntil = Math.max(state.penaltyUntil, untilMs);
  }

  /** Multiplicative decrease of the key's budget (see the module comment). */
  slowDown(key: RateKey, now: number): void {
    const state = this.state(key);
    const current = this.factor(state, now);
    state.factor = Math.max(this.aimd.minFactor, current * this.aimd.decrease);
    state.factorAt = now;
  }

  /** Current budget factor of a key (1 = the documented budget). */
  budgetFactor(key: RateKey, now: number): number {
    const state = this.keys.get(this.id(key));
    return state ? this.factor(state, now) : 1;
  }

  /** Drop keys with nothing left in any window, no penalty and a recovered budget. */
  sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, state] of this.keys) {
      this.prune(state, now);
      const idle = state.times.length === state.head && state.penaltyUntil <= now && this.factor(state, now) >= 1;
      if (idle) this.keys.delete(id);
    }
  }

  /** Number of keys held (for tests and the memory bound). */
  get size(): number {
    return this.keys.size;
  }

  private admissibleAt(state: KeyState, now: number): number {
    this.prune(state, now);
    let at = Math.max(now, state.penaltyUntil);
    const n = state.times.length - state.head;
    const factor = this.factor(state, now);
    for (const w of state.windows) {
      // A slowed budget keeps the window's rate: fewer requests per window, or (once that reaches 1) a longer window.
      const limit = Math.max(1, Math.floor(w.limit * factor));
      const ms = factor < 1 ? (w.ms * limit) / (w.limit * factor) : w.ms;
      if (n < limit) continue;
      // The window is full while the limit-th most recent request is inside it; it frees when that one leaves.
      const lth = state.times[state.head + n - limit];
      at = Math.max(at, lth + ms + this.margin(w));
    }
    return at;
  }

  private factor(state: KeyState, now: number): number {
    if (state.factor >= 1) return 1;
    const steps = Math.floor(Math.max(0, now - state.factorAt) / this.aimd.recoverStepMs);
    return Math.min(1, state.factor + steps * this.aimd.recoverPerStep);
  }

  private margin(w: RateWindow): number {
    if (w.marginMs !== undefined) return w.marginMs;
    return Math.max(this.minMarginMs, w.ms * this.marginFraction);
  }

  private prune(state: KeyState, now: number): void {
    let longest = 0;
    // A slowed key's windows stretch by up to 1/minFactor; keep enough history for that.
    const stretch = state.factor < 1 ? 1 / this.aimd.minFactor : 1;
    for (const w of state.windows) longest = Math.max(longest, w.ms * stretch + this.margin(w));
    const cutoff = now - longest;
    while (state.head < state.times.length && state.times[state.head] <= cutoff) state.head++;
    // Compact once the dead prefix dominates, so memory stays proportional to live entries.
    if (state.head > 64 && state.head * 2 > state.times.length) {
      state.times = state.times.slice(state.head);
      state.head = 0;
    }
  }

  private state(key: RateKey): KeyState {
    const id = this.id(key);
    let state = this.keys.get(id);
    if (!state) {
      const windows = this.policies[key.policy];
      if (!windows) throw new Error(`unknown rate policy "${key.policy}"`);
      state = { windows, times: [], head: 0, penaltyUntil: 0, factor: 1, factorAt: 0 };
      this.keys.set(id, state);
    }
    return state;
  }

  private id(key: RateKey): string {
    return `${key.policy}\u0000${key.id}`;
  }
}

/** Teams' documented windows (ms at timeScale 1): per bot per thread for sending and for creating conversations. */
export const TEAMS_SEND_WINDOWS: readonly RateWindow[] = [
  { limit: 7, ms: 1000 },
  { limit: 8, ms: 2000 },
  { limit: 60, ms: 30_000 },
  { limit: 1800, ms: 3_600_000 },
];

/** Per bot per thread for reading the roster. */
export const TEAMS_MEMBERS_WINDOWS: readonly RateWindow[] = [
  { limit: 14, ms: 1000 },
  { limit: 16, ms: 2000 },
  { limit: 120, ms: 30_000 },
  { limit: 3600, ms: 3_600_000 },
];

/** Multiply every window length by `timeScale` (0.1 = ten times faster), as the emulator does. */
export function scaleWindows(windows: readonly RateWindow[], timeScale: number): RateWindow[] {
  return windows.map((w) => ({ limit: w.limit, ms: w.ms * timeScale }));
}
