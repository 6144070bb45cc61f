import assert from "node:assert/strict";
import sinon from "sinon";
import { RateLimiter, TEAMS_SEND_WINDOWS, scaleWindows, type RateKey } from "../../src/delivery/rate-limiter";
import { createKeys, sendKeys, teamsPolicies } from "../../src/delivery/rate-keys";

const thread = (id: string): RateKey => ({ policy: "thread", id });
const tenant = (id: string): RateKey => ({ policy: "tenant", id });

/** Exact windows: no safety margin, so the arithmetic below is Teams' own. */
function exactLimiter(extra: Partial<ConstructorParameters<typeof RateLimiter>[0]> = {}): RateLimiter {
  return new RateLimiter({
    policies: { thread: [...TEAMS_SEND_WINDOWS], tenant: [{ limit: 50, ms: 1000 }] },
    minMarginMs: 0, marginFraction: 0, ...extra,
  });
}

/** Take greedily at the earliest admissible time, `count` times; returns the times taken. */
function drain(limiter: RateLimiter, keys: RateKey[], count: number, clock: sinon.SinonFakeTimers): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = limiter.nextAdmissible(keys, Date.now());
    clock.tick(at - Date.now());
    limiter.take(keys, Date.now());
    times.push(Date.now());
  }
  return times;
}

describe("delivery/rate-limiter", () => {
  let clock: sinon.SinonFakeTimers;
  beforeEach(() => { clock = sinon.useFakeTimers({ now: 0 }); });
  afterEach(() => clock.restore());

  it("admits 7 per second on a thread, then the 8th at 1 s and the 9th only at 2 s (8 per 2 s)", () => {
    const times = drain(exactLimiter(), [thread("a")], 10, clock);
    assert.deepEqual(times, [0, 0, 0, 0, 0, 0, 0, 1000, 2000, 2000]);
  });

  it("holds a thread to 60 per 30 s and 1800 per hour over long runs", () => {
    const limiter = exactLimiter();
    const times = drain(limiter, [thread("a")], 61, clock);
    // Whatever the short windows allow, the 61st request waits for the 1st to leave the 30 s window.
    assert.equal(times[60], times[0] + 30_000);
    assert.ok(times[59] < 30_000);
    const hour = drain(exactLimiter(), [thread("b")], 1801, clock);
    assert.equal(hour[1800] - hour[0], 3_600_000);
  });

  it("combines keys: a request waits for the busiest of its thread and its tenant", () => {
    const limiter = exactLimiter();
    for (let i = 0; i < 50; i++) limiter.take([thread(`t${i}`), tenant("x")], 0);
    // Thread "fresh" is idle, but tenant x used its 50 this second.
    assert.equal(limiter.nextAdmissible([thread("fresh"), tenant("x")], 10), 1000);
    assert.equal(limiter.nextAdmissible([thread("fresh"), tenant("y")], 10), 10);
    // And thread t0 in another tenant is limited only by its own windows (1 of 7 used).
    assert.equal(limiter.nextAdmissible([thread("t0"), tenant("y")], 10), 10);
  });

  it("adds the safety margin to Teams' windows but not to windows that opt out", () => {
    const limiter = new RateLimiter({ policies: { p: [{ limit: 1, ms: 1000 }], q: [{ limit: 1, ms: 1000, marginMs: 0 }] }, minMarginMs: 3, marginFraction: 0.01 });
    limiter.take([{ policy: "p", id: "k" }, { policy: "q", id: "k" }], 0);
    assert.equal(limiter.nextAdmissible([{ policy: "p", id: "k" }], 0), 1010);
    assert.equal(limiter.nextAdmissible([{ policy: "q", id: "k" }], 0), 1000);
  });

  it("spaces a tenant's requests evenly (bursts of 4 at most, no 50-request bursts) and still reaches 50 per second", () => {
    const limiter = new RateLimiter({ policies: teamsPolicies(50), minMarginMs: 0, marginFraction: 0 });
    const times = drain(limiter, [tenant("x")], 101, clock);
    // The spacing window: 4 requests per 4 × 18 ms, so a late timer is made up by the requests behind it.
    for (let i = 4; i < 50; i++) assert.equal(times[i] - times[i - 4], 72);
    assert.equal(times[3], times[0]);
    // Teams' window binds from the 51st on: exactly 50 in any second.
    assert.equal(times[50], 1000);
    assert.equal(times[100], 2000);
  });

  it("retime: a request that left late counts from when it left, as Teams counts it on arrival", () => {
    const limiter = new RateLimiter({ policies: { t: [{ limit: 2, ms: 1000 }] }, minMarginMs: 0, marginFraction: 0 });
    const key = [{ policy: "t", id: "k" }];
    limiter.take(key, 0);
    limiter.take(key, 10);
    assert.equal(limiter.nextAdmissible(key, 20), 1000);
    limiter.retime(key, 0, 40); // the first one's timer fired 40 ms late
    assert.equal(limiter.nextAdmissible(key, 20), 1010, "the window now frees when the request at 10 leaves it");
    limiter.take(key, 1010);
    assert.equal(limiter.nextAdmissible(key, 1010), 1040, "and the next one waits for the late one to leave the window");
    limiter.retime(key, 12345, 20000); // unknown: nothing moves
    limiter.retime(key, 1010, 1000); // not later: nothing moves
    assert.equal(limiter.nextAdmissible(key, 1010), 1040);
  });

  it("penalize blocks a key until the given time (Retry-After)", () => {
    const limiter = exactLimiter();
    limiter.penalize(thread("a"), 2500);
    assert.equal(limiter.nextAdmissible([thread("a"), tenant("x")], 0), 2500);
    assert.equal(limiter.nextAdmissible([thread("b"), tenant("x")], 0), 0);
  });

  it("slowDown cuts the budget multiplicatively and it recovers additively", () => {
    const limiter = new RateLimiter({
      policies: { tenant: [{ limit: 50, ms: 1000 }] }, minMarginMs: 0, marginFraction: 0,
      aimd: { decrease: 0.5, minFactor: 0.1, recoverPerStep: 0.1, recoverStepMs: 1000 },
    });
    const key = tenant("x");
    limiter.slowDown(key, 0);
    assert.equal(limiter.budgetFactor(key, 0), 0.5);
    limiter.slowDown(key, 0);
    assert.equal(limiter.budgetFactor(key, 0), 0.25);
    // 12.5 per second now: 12 per 960 ms.
    for (let i = 0; i < 11; i++) limiter.take([key], 0);
    assert.equal(limiter.nextAdmissible([key], 0), 0);
    limiter.take([key], 0);
    assert.equal(limiter.nextAdmissible([key], 0), 960);
    assert.equal(limiter.budgetFactor(key, 999), 0.25);
    assert.ok(Math.abs(limiter.budgetFactor(key, 1000) - 0.35) < 1e-9);
    assert.equal(limiter.budgetFactor(key, 8000), 1);
    for (let i = 0; i < 20; i++) limiter.slowDown(key, 9000);
    assert.equal(limiter.budgetFactor(key, 9000), 0.1, "never below minFactor");
  });

  it("a slowed single-request window gets longer instead of admitting nothing", () => {
    const limiter = new RateLimiter({ policies: { s: [{ limit: 1, ms: 100, marginMs: 0 }] }, aimd: { decrease: 0.5, recoverStepMs: 1_000_000 } });
    const key = { policy: "s", id: "k" };
    limiter.slowDown(key, 0);
    limiter.take([key], 0);
    assert.equal(limiter.nextAdmissible([key], 0), 200);
  });

  it("drops idle keys so thousands of threads do not accumulate", () => {
    const limiter = new RateLimiter({ policies: teamsPolicies(50, 0.001), sweepEveryMs: 10 });
    for (let i = 0; i < 5000; i++) limiter.take(sendKeys(`tenant${i % 100}`, `conv${i}`), 0);
    assert.equal(limiter.size, 5100);
    limiter.penalize(createKeys("tenant1", { userId: "29:someone" })[0], 1_000_000);
    // Past every (scaled) window: a take triggers the sweep; only the penalized key and the new request's keys remain.
    limiter.take(sendKeys("tenant1", "late"), 10_000);
    assert.equal(limiter.size, 3);
  });

  it("rejects a policy it does not know and a window that admits nothing", () => {
    assert.throws(() => exactLimiter().take([{ policy: "nope", id: "x" }], 0), /unknown rate policy/);
    assert.throws(() => new RateLimiter({ policies: { p: [{ limit: 0, ms: 10 }] } }), /limit >= 1/);
  });

  it("scales windows for tests the way the emulator does", () => {
    assert.deepEqual(scaleWindows(TEAMS_SEND_WINDOWS, 0.1).map((w) => w.ms), [100, 200, 3000, 360_000]);
  });
});
