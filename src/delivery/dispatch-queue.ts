/**
 * The engine's ready queue: which task may go to Teams *now*, and otherwise when to look again.
 *
 * Tasks are grouped in one lane per tenant (the global 50/s budget is per tenant). A lane holds a FIFO of tasks
 * due now and a heap of tasks waiting for a time (a retry's notBefore, or a thread that is busy). In a lane, a
 * task whose thread is still busy is parked in the heap until that thread's window frees, and the tasks behind
 * it go first — no head-of-line blocking, and a waiting task never occupies a worker slot.
 *
 * Lanes that can run are served round-robin, so tenants share the process fairly; a lane that cannot (its
 * tenant's budget is spent, or everything in it waits) sleeps in a heap keyed by the time it can run again, so
 * a thousand throttled tenants cost nothing per dispatch. That wake time is a lower bound: only the lane's own
 * requests (and 429 penalties, which only postpone) change its tenant's and threads' windows.
 *
 * Cost: O(log lanes + log tasks) per dispatch; a task is re-examined only when its time comes.
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
  sleeping: boolean;
  wakeAt: number;
  /** Bumped whenever the lane leaves the sleep heap, so stale heap entries can be recognised. */
  generation: number;
}

interface SleepEntry<T> {
  lane: Lane<T>;
  wakeAt: number;
  generation: number;
}

export class DispatchQueue<T extends Schedulable> {
  private readonly lanes = new Map<string, Lane<T>>();
  /** Lanes that may have something to run now, in round-robin order. */
  private due: Lane<T>[] = [];
  private dueHead = 0;
  private readonly sleepers = new MinHeap<SleepEntry<T>>((e) => e.wakeAt);
  private count = 0;

  constructor(private readonly limiter: RateLimiter) {}

  get size(): number {
    return this.count;
  }

  get laneCount(): number {
    return this.lanes.size;
  }

  push(task: T, now: number): void {
    let lane = this.lanes.get(task.tenantId);
    if (!lane) {
      lane = {
        tenantId: task.tenantId, tenantKeys: [tenantKey(task.tenantId)], ready: [], readyHead: 0,
        waiting: new MinHeap<T>((t) => t.notBefore), sleeping: false, wakeAt: 0, generation: 0,
      };
      this.lanes.set(task.tenantId, lane);
      this.due.push(lane);
    }
    if (task.notBefore > now) lane.waiting.push(task);
    else lane.ready.push(task);
    this.count++;
    // A sleeping lane may now have something earlier than what it sleeps for: let `next` look again.
    if (lane.sleeping && Math.max(now, task.notBefore) < lane.wakeAt) this.wake(lane);
  }

  /**
   * The next task whose keys all admit a request at `now` (removed from the queue; the caller must `take` its
   * keys before asking again), else the earliest time worth asking again, else undefined when empty.
   */
  next(now: number): T | number | undefined {
    if (this.count === 0) return undefined;
    for (let top = this.sleepers.peek(); top && top.wakeAt <= now; top = this.sleepers.peek()) {
      this.sleepers.pop();
      if (top.generation === top.lane.generation && top.lane.sleeping) this.wake(top.lane);
    }
    while (this.dueHead < this.due.length) {
      const lane = this.due[this.dueHead++];
      const found = this.examine(lane, now);
      if (typeof found === "object") {
        this.count--;
        if (this.isEmpty(lane)) this.drop(lane);
        else this.due.push(lane);
        this.compactDue();
        return found;
      }
      if (found === undefined) {
        this.drop(lane);
      } else {
        lane.sleeping = true;
        lane.wakeAt = found;
        this.sleepers.push({ lane, wakeAt: found, generation: lane.generation });
      }
    }
    this.compactDue();
    for (let top = this.sleepers.peek(); top; top = this.sleepers.peek()) {
      if (top.generation === top.lane.generation && top.lane.sleeping) return top.wakeAt;
      this.sleepers.pop();
    }
    return undefined;
  }

  /** Remove every queued task matching `predicate` (e.g. a cancelled job's). Emptied lanes are dropped lazily. */
  removeWhere(predicate: (task: T) => boolean): T[] {
    const removed: T[] = [];
    for (const lane of this.lanes.values()) {
      const live = lane.ready.slice(lane.readyHead);
      lane.ready = live.filter((t) => !predicate(t));
      lane.readyHead = 0;
      removed.push(...live.filter(predicate), ...lane.waiting.removeWhere(predicate));
    }
    this.count -= removed.length;
    return removed;
  }

  /** A task of this lane that may run now; else when the lane may have one; undefined when it is empty. */
  private examine(lane: Lane<T>, now: number): T | number | undefined {
    while (lane.waiting.size > 0 && lane.waiting.peek()!.notBefore <= now) lane.ready.push(lane.waiting.pop()!);
    if (lane.ready.length === lane.readyHead) {
      this.compactReady(lane);
      return lane.waiting.size > 0 ? lane.waiting.peek()!.notBefore : undefined;
    }
    const tenantAt = this.limiter.nextAdmissible(lane.tenantKeys, now);
    if (tenantAt > now) return tenantAt;
    while (lane.ready.length > lane.readyHead) {
      const task = lane.ready[lane.readyHead++];
      const at = this.limiter.nextAdmissible(task.keys, now);
      if (at <= now) {
        this.compactReady(lane);
        return task;
      }
      // Its thread (or create budget) is busy: park it and let the tasks behind it go.
      task.notBefore = at;
      lane.waiting.push(task);
    }
    this.compactReady(lane);
    return lane.waiting.peek()!.notBefore;
  }

  private wake(lane: Lane<T>): void {
    lane.sleeping = false;
    lane.generation++;
    this.due.push(lane);
  }

  private drop(lane: Lane<T>): void {
    lane.sleeping = false;
    lane.generation++;
    if (this.lanes.get(lane.tenantId) === lane) this.lanes.delete(lane.tenantId);
  }

  private isEmpty(lane: Lane<T>): boolean {
    return lane.ready.length === lane.readyHead && lane.waiting.size === 0;
  }

  private compactDue(): void {
    if (this.dueHead === this.due.length) {
      this.due = [];
      this.dueHead = 0;
    } else if (this.dueHead > 1024 && this.dueHead * 2 > this.due.length) {
      this.due = this.due.slice(this.dueHead);
      this.dueHead = 0;
    }
  }

  private compactReady(lane: Lane<T>): void {
    if (lane.readyHead === lane.ready.length) {
      lane.ready = [];
      lane.readyHead = 0;
    } else if (lane.readyHead > 256 && lane.readyHead * 2 > lane.ready.length) {
      lane.ready = lane.ready.slice(lane.readyHead);
      lane.readyHead = 0;
    }
  }
}
