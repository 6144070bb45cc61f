import assert from "node:assert/strict";
import { DispatchQueue, type Schedulable } from "../../src/delivery/dispatch-queue";
import { RateLimiter } from "../../src/delivery/rate-limiter";
import { sendKeys } from "../../src/delivery/rate-keys";

interface Task extends Schedulable { name: string }

function setup(perTenant = 1000) {
  const limiter = new RateLimiter({
    policies: { thread: [{ limit: 1, ms: 1000 }], tenant: [{ limit: perTenant, ms: 1000 }] }, minMarginMs: 0, marginFraction: 0,
  });
  const queue = new DispatchQueue<Task>(limiter);
  const task = (name: string, tenant: string, conversation: string, notBefore = 0): Task => ({ name, tenantId: tenant, keys: sendKeys(tenant, conversation), notBefore });
  /** Everything runnable at `now`, in order, taking each one's keys like the engine does. */
  const drainAt = (now: number): string[] => {
    const out: string[] = [];
    for (let next = queue.next(now); next !== undefined && typeof next !== "number"; next = queue.next(now)) {
      limiter.take(next.keys, now);
      out.push(next.name);
    }
    return out;
  };
  return { limiter, queue, task, drainAt };
}

describe("delivery/dispatch-queue", () => {
  it("parks a task whose thread is busy and runs the ones behind it (no head-of-line blocking)", () => {
    const { queue, task, drainAt } = setup();
    for (const [name, conv] of [["a1", "A"], ["a2", "A"], ["b1", "B"], ["c1", "C"]]) queue.push(task(name, "t", conv), 0);
    assert.deepEqual(drainAt(0), ["a1", "b1", "c1"]);
    assert.equal(queue.next(0), 1000, "a2 waits for thread A's window");
    assert.deepEqual(drainAt(1000), ["a2"]);
    assert.equal(queue.next(1000), undefined);
  });

  it("serves tenants round-robin and skips a tenant whose budget is spent", () => {
    const { queue, task, drainAt } = setup(2);
    for (let i = 0; i < 3; i++) queue.push(task(`x${i}`, "x", `x-conv${i}`), 0);
    for (let i = 0; i < 3; i++) queue.push(task(`y${i}`, "y", `y-conv${i}`), 0);
    assert.deepEqual(drainAt(0), ["x0", "y0", "x1", "y1"]);
    assert.equal(queue.next(0), 1000);
    assert.deepEqual(drainAt(1000).sort(), ["x2", "y2"]);
  });

  it("holds a task until its notBefore", () => {
    const { queue, task, drainAt } = setup();
    queue.push(task("later", "t", "A", 500), 0);
    queue.push(task("now", "t", "B"), 0);
    assert.deepEqual(drainAt(0), ["now"]);
    assert.equal(queue.next(0), 500);
    assert.deepEqual(drainAt(499), []);
    assert.deepEqual(drainAt(500), ["later"]);
    assert.equal(queue.size, 0);
    assert.equal(queue.laneCount, 0, "empty lanes are dropped");
  });

  it("removes a cancelled job's tasks wherever they wait", () => {
    const { queue, task, drainAt } = setup();
    queue.push(task("keep", "t", "A"), 0);
    queue.push(task("drop-ready", "t", "B"), 0);
    queue.push(task("drop-waiting", "u", "C", 999), 0);
    const removed = queue.removeWhere((t) => t.name.startsWith("drop"));
    assert.deepEqual(removed.map((t) => t.name).sort(), ["drop-ready", "drop-waiting"]);
    assert.equal(queue.size, 1);
    assert.deepEqual(drainAt(10_000), ["keep"]);
  });
});
