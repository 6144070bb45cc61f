/**
 * A per-caller budget on creating notifications, so a runaway pipeline cannot flood Teams (and everyone's chats):
 * a token bucket per caller, `perMinute` deep, refilled continuously. Over budget → 429 with Retry-After.
 * In memory, per process: with several instances behind a load balancer each allows the full budget.
 */
import { ApiError } from "./errors";

interface Bucket {
  tokens: number;
  at: number;
}

export class CallerRateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Takes one request from `caller`'s budget or throws a 429 ApiError saying when to retry. */
  take(caller: string): void {
    if (this.perMinute <= 0) return;
    const now = this.now();
    const perMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(caller) ?? { tokens: this.perMinute, at: now };
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const error = new ApiError(429, "rate_limited", `more than ${this.perMinute} notifications per minute from ${caller}; slow down`);
    error.retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
    throw error;
  }
}
