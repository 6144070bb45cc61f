/**
 * Exponential backoff with jitter for retrying a Teams call: base × 2^(n-1), capped, then shortened by a random
 * fraction up to `jitter` so that many deliveries failing together do not retry together.
 */
export interface BackoffOptions {
  /** Delay before the first retry. Default 1000 ms. */
  baseMs: number;
  /** Cap. Default 60 s. */
  maxMs: number;
  /** 0..1: fraction of the delay that is randomized away (0 = none, 1 = "full jitter"). Default 0.5. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 60_000, jitter: 0.5 };

/** Delay before retry number `retry` (1 = first retry). `random` returns [0, 1). */
export function backoffDelayMs(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(0, retry - 1), 30);
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.round(capped * (1 - jitter * random()));
}
