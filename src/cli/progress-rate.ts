/**
 * Delivery rate and time left for `watch`, from the finished-delivery counts it samples: the rate over the last
 * `windowMs` (so a 429 pause or a slow start shows quickly), and the time the pending deliveries take at that rate.
 */
export class ProgressRate {
  private samples: { at: number; done: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(at: number, done: number): void {
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[1].at >= this.windowMs) this.samples.shift();
  }

  /** Deliveries per second; 0 until two samples are apart. */
  perSecond(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || last.at <= first.at) return 0;
    return Math.max(0, (last.done - first.done) / ((last.at - first.at) / 1000));
  }

  /** Seconds until `pending` are done at the current rate; undefined while the rate is 0. */
  secondsLeft(pending: number): number | undefined {
    const rate = this.perSecond();
    return rate > 0 ? pending / rate : pending === 0 ? 0 : undefined;
  }
}

/** 75 → "1m 15s"; 3725 → "1h 2m"; undefined → "?" */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
