/**
 * The time the dispatcher plans requests for: a little ahead of now. Each delivery writes "sending" to the store
 * before its request leaves; if the limiter admitted the request *now* and the write then took a variable
 * 5–50 ms, requests would reach Teams bunched up — more than 50 in some second, so 429s, and a slower tenant
 * after each (AIMD). Planned `lead` ms ahead instead, the write happens in the lead time and the request waits
 * for its planned instant: it leaves exactly when the limiter said.
 *
 * `lead` follows the store's write latency (90th percentile of recent writes, capped); with SQLite it is about
 * zero. The planned time never goes backwards, so the limiter's windows stay consistent when `lead` shrinks.
 */
const SAMPLES = 128;
const RECOMPUTE_EVERY = 16;

export class DispatchClock {
  private lead = 0;
  private last = 0;
  private readonly samples: number[] = [];
  private recorded = 0;

  constructor(private readonly clock: { now(): number }, private readonly maxLeadMs = 200) {}

  /** Epoch ms a request dispatched now is planned for (≥ every earlier answer). */
  now(): number {
    const planned = Math.max(this.last, this.clock.now() + this.lead);
    this.last = planned;
    return planned;
  }

  get leadMs(): number {
    return this.lead;
  }

  /** How long a write before a request took. */
  record(ms: number): void {
    this.samples[this.recorded++ % SAMPLES] = ms;
    if (this.recorded % RECOMPUTE_EVERY !== 0) return;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const p90 = sorted[Math.floor(sorted.length * 0.9)] ?? 0;
    this.lead = Math.min(this.maxLeadMs, p90 < 1 ? 0 : Math.ceil(p90 * 1.1 + 2));
  }

  /** Resolves at the planned instant (at once when it has passed). */
  waitFor(plannedAt: number): Promise<void> | undefined {
    const wait = plannedAt - this.clock.now();
    return wait >= 1 ? new Promise((resolve) => setTimeout(resolve, wait)) : undefined;
  }
}
