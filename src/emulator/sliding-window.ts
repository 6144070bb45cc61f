/**
 * Sliding-window rate limiting as Teams describes it: "n requests per w seconds", several windows per key.
 *
 * Each key keeps the timestamps of its *accepted* requests in a deque (sorted, oldest first), pruned to the
 * longest window. Checking a window is O(1): with limit L the window is full exactly when the L-th most
 * recent accepted request is still inside it, and the slot frees when that request leaves the window.
 */

export interface RateWindow {
  limit: number;
  /** Window length in ms (already scaled). */
  ms: number;
}

export interface WindowVerdict {
  ok: boolean;
  /** When !ok: ms until the violated window(s) free a slot. */
  retryAfterMs: number;
  /** When !ok: the violated window that frees last, e.g. "7/1000ms". */
  window?: string;
}

/** Growable FIFO of numbers without per-push allocation once warm. */
class TimestampDeque {
  private items: number[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** i = 0 is the oldest. */
  at(i: number): number {
    return this.items[this.head + i];
  }

  push(t: number): void {
    this.items.push(t);
  }

  dropOlderThan(cutoff: number): void {
    while (this.head < this.items.length && this.items[this.head] <= cutoff) this.head++;
    // Compact once the dead prefix dominates, so memory stays proportional to live entries.
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class SlidingWindowLimiter {
  private readonly keys = new Map<string, TimestampDeque>();
  private readonly longestMs: number;

  constructor(private readonly windows: readonly RateWindow[]) {
    this.longestMs = Math.max(...windows.map((w) => w.ms));
  }

  /** Would one more request on `key` at `now` fit every window? Does not record it. */
  check(key: string, now: number): WindowVerdict {
    const q = this.keys.get(key);
    if (!q) return { ok: true, retryAfterMs: 0 };
    q.dropOlderThan(now - this.longestMs);
    let retryAfterMs = 0;
    let violated: RateWindow | undefined;
    const n = q.length;
    for (const w of this.windows) {
      if (n < w.limit) continue;
      const lth = q.at(n - w.limit);
      // Window is (now - ms, now]; full when the L-th most recent accepted request is inside it.
      if (lth > now - w.ms) {
        const wait = lth + w.ms - now;
        if (wait > retryAfterMs) {
          retryAfterMs = wait;
          violated = w;
        }
      }
    }
    if (!violated) return { ok: true, retryAfterMs: 0 };
    return { ok: false, retryAfterMs, window: `${violated.limit}/${violated.ms}ms` };
  }

  /** Count an accepted request. Timestamps must be non-decreasing per key (they come from one clock). */
  record(key: string, now: number): void {
    let q = this.keys.get(key);
    if (!q) {
      q = new TimestampDeque();
      this.keys.set(key, q);
    }
    q.push(now);
  }

  clear(): void {
    this.keys.clear();
  }

  get size(): number {
    return this.keys.size;
  }
}

/** Teams' documented per-thread windows for sending (and creating) conversations, in seconds. */
export const SEND_WINDOWS: ReadonlyArray<[limit: number, seconds: number]> = [
  [7, 1],
  [8, 2],
  [60, 30],
  [1800, 3600],
];

/** Teams' documented windows for reading the roster. */
export const MEMBERS_WINDOWS: ReadonlyArray<[limit: number, seconds: number]> = [
  [14, 1],
  [16, 2],
  [120, 30],
  [3600, 3600],
];

export function scaledWindows(spec: ReadonlyArray<[number, number]>, timeScale: number): RateWindow[] {
  // Whole milliseconds, so a client that waits exactly Retry-After lands outside the window.
  return spec.map(([limit, seconds]) => ({ limit, ms: Math.max(1, Math.round(seconds * 1000 * timeScale)) }));
}
