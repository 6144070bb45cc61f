/** Requests per second over the last few seconds (for the heartbeat and /api/cluster): one counter per second. */
export class RequestRate {
  private readonly buckets: number[];
  private readonly seconds: number[];

  constructor(private readonly windowSeconds = 10) {
    this.buckets = new Array(windowSeconds).fill(0);
    this.seconds = new Array(windowSeconds).fill(-1);
  }

  record(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % this.windowSeconds;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i]!++;
  }

  /** Average over the last `windowSeconds` complete seconds. */
  perSecond(nowMs: number): number {
    const current = Math.floor(nowMs / 1000);
    let total = 0;
    for (let i = 0; i < this.windowSeconds; i++) {
      const second = this.seconds[i]!;
      if (second < current && second >= current - this.windowSeconds) total += this.buckets[i]!;
    }
    return total / this.windowSeconds;
  }
}
