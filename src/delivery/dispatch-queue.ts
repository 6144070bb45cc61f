/**
 * The engine's ready queue: which task may go to Teams *now*, and otherwise when to look again.
 *
 * Tasks are grouped in one lane per tenant (the global 50/s budget is per tenant). A lane holds a FIFO of tasks
 * due now and a heap of tasks waiting for a time (a retry's notBefore, or a thread that is busy). `next` walks
 * the lanes round-robin, so tenants share the process fairly and a throttled tenant never holds up another; in
 * a lane, a task whose thread is still busy is parked in the heap until that thread's window frees and the
 * tasks behind it go first — no head-of-line blocking, and a waiting task never occupies a worker slot.
 *
 * Cost: O(lanes) per `next` plus O(log n) per task moved; a task is re-examined only when its time comes.
 */
import { MinHeap } from "./min-heap";
import type { RateKey, RateLimiter } from "./rate-limiter";
import { tenantKey } from "./rate-keys";

export interface Schedulable {
  tenantId: string;
  /** Every rate key the request counts against (thread/create/members + tenant). */
  keys: RateKey[];
  /** Epoch ms before which it must not run (0 = now). The queue raises it while the task's keys are busy. */
  notBefore: number;
}

interface Lane<T> {
  tenantId: string;
  tenantKeys: RateKey[];
  ready: T[];
  readyHead: number;
  waiting: MinHeap<T>;
}

export class DispatchQueue<T extends Schedulable> {
  private readonly lanes = new Map<string, Lane<T>>();
  private order: Lane<T>[] = [];
  private cursor = 0;
  private count = 0;

  constructor(private readonly limiter: RateLimiter) {}

  get size(): number {
    return this.count;
  }

  get laneCount(): number {
    return this.order.length;
  }

  push(task: T, now: number): void {
    const lane = this.lane(task.tenantId);
    if (task.notBefore > now) lane.waiting.push(task);
    else lane.ready.push(task);
    this.count++;
  }

  /**
   * The next task whose keys all admit a request at `now` (removed from the queue; the caller must `take` its
   * keys before asking again), else the earliest time worth asking again, else undefined when empty.
   */
  next(now: number): T | number | undefined {
    if (this.count === 0) return undefined;
    let wake = Infinity;
    const lanes = this.order.length;
    for (let i = 0; i < lanes; i++) {
      const index = (this.cursor + i) % lanes;
      const lane = this.order[index];
      while (lane.waiting.size > 0 && lane.waiting.peek()!.notBefore <= now) lane.ready.push(lane.waiting.pop()!);
      if (lane.ready.length === lane.readyHead) {
        if (lane.waiting.size > 0) wake = Math.min(wake, lane.waiting.peek()!.notBefore);
        continue;
      }
      const tenantAt = this.limiter.nextAdmissible(lane.tenantKeys, now);
      if (tenantAt > now) {
        wake = Math.min(wake, tenantAt);
        continue;
      }
      while (lane.ready.length > lane.readyHead) {
        const task = lane.ready[lane.readyHead];
        lane.readyHead++;
        const at = this.limiter.nextAdmissible(task.keys, now);
        if (at <= now) {
          this.compact(lane);
          this.count--;
          this.cursor = (index + 1) % lanes;
          if (lane.ready.length === lane.readyHead && lane.waiting.size === 0) this.dropLane(lane);
          return task;
        }
        task.notBefore = at;
        lane.waiting.push(task);
      }
      this.compact(lane);
      wake = Math.min(wake, lane.waiting.peek()!.notBefore);
    }
    return wake;
  }

  /** Remove every queued task matching `predicate` (e.g. a cancelled job's). */
  removeWhere(predicate: (task: T) => boolean): T[] {
    const removed: T[] = [];
    for (const lane of [...this.order]) {
      const live = lane.ready.slice(lane.readyHead);
      lane.ready = live.filter((t) => !predicate(t));
      lane.readyHead = 0;
      removed.push(...live.filter(predicate), ...lane.waiting.removeWhere(predicate));
      if (lane.ready.length === 0 && lane.waiting.size === 0) this.dropLane(lane);
    }
    this.count -= removed.length;
    return removed;
  }

  private lane(tenantId: string): Lane<T> {
    let lane = this.lanes.get(tenantId);
    if (!lane) {
      lane = { tenantId, tenantKeys: [tenantKey(tenantId)], ready: [], readyHead: 0, waiting: new MinHeap<T>((t) => t.notBefore) };
      this.lanes.set(tenantId, lane);
      this.order.push(lane);
    }
    return lane;
  }

  private dropLane(lane: Lane<T>): void {
    this.lanes.delete(lane.tenantId);
    const index = this.order.indexOf(lane);
    if (index >= 0) {
      this.order.splice(index, 1);
      if (this.cursor > index) this.cursor--;
      if (this.cursor >= this.order.length) this.cursor = 0;
    }
  }

  private compact(lane: Lane<T>): void {
    if (lane.readyHead === lane.ready.length) {
      lane.ready = [];
      lane.readyHead = 0;
    } else if (lane.readyHead > 256 && lane.readyHead * 2 > lane.ready.length) {
      lane.ready = lane.ready.slice(lane.readyHead);
      lane.readyHead = 0;
    }
  }
}
