/**
 * The timer trigger end to end with croner's real timers under sinon's fake clock (croner reads Date and
 * arms setTimeout, both faked). Long idle spans are skipped with `clock.jump` — like a process that slept:
 * due timers still fire once, late — and the minutes around each slot are ticked through.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sinon from "sinon";
import { createLogger, silentLogger, type Logger } from "../../src/logger";
import type { NotificationRequest, Notify, TriggerMeta } from "../../src/delivery/notification-request";
import { MemoryStore } from "../../src/store/memory";
import { SqliteStore } from "../../src/store/sqlite";
import type { ScheduleRunStore } from "../../src/store/types";
import { parseSchedules, type ScheduleDefinition } from "../../src/triggers/schedules/schedule-config";
import { Scheduler, type SchedulerOptions } from "../../src/triggers/schedules/scheduler";

interface NotifyCall {
  at: string;
  request: NotificationRequest;
  meta: TriggerMeta;
}

const NOTIFICATION = { title: "Weekly digest", text: "What happened this week" };

function definitions(...entries: Array<Record<string, unknown>>): ScheduleDefinition[] {
  return parseSchedules({ schedules: entries.map((entry) => ({ notification: NOTIFICATION, ...entry })) });
}

function recordingNotify(): { calls: NotifyCall[]; notify: Notify } {
  const calls: NotifyCall[] = [];
  const notify: Notify = async (request, meta) => {
    calls.push({ at: new Date().toISOString(), request, meta });
    return { id: `job-${calls.length}`, created: true };
  };
  return { calls, notify };
}

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: "debug", destination: { write: (line: string) => void lines.push(JSON.parse(line)) } });
  return { logger, lines };
}

const zoneOf = (call: NotifyCall) => call.meta.timeZoneFilter?.zones.join(",");

describe("Scheduler (timer trigger)", function () {
  let clock: sinon.SinonFakeTimers;
  let schedulers: Scheduler[] = [];
  let cleanups: Array<() => Promise<void> | void> = [];

  function startClockAt(iso: string): void {
    clock = sinon.useFakeTimers({ now: Date.parse(iso), toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  }

  /** Skip idle time (timers that fall due fire once, at `iso`). */
  async function skipTo(iso: string): Promise<void> {
    const ms = Date.parse(iso) - Date.now();
    assert.ok(ms >= 0, `skipTo ${iso} goes backwards`);
    clock.jump(ms);
    await clock.tickAsync(0);
  }

  /** Tick through the two minutes around `iso`. */
  async function passThrough(iso: string): Promise<void> {
    await skipTo(new Date(Date.parse(iso) - 60_000).toISOString());
    await clock.tickAsync(120_000);
  }

  function scheduler(options: Partial<SchedulerOptions> & Pick<SchedulerOptions, "schedules" | "notify">): Scheduler {
    const created = new Scheduler({
      store: new MemoryStore().schedules,
      logger: silentLogger(),
      defaultTimeZone: "UTC",
      ...options,
    });
    schedulers.push(created);
    return created;
  }

  afterEach(async function () {
    for (const created of schedulers) await created.stop();
    schedulers = [];
    clock?.restore();
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });

  describe("fixed time zone", function () {
    it("runs 09:00 Europe/Berlin at 08:00Z in winter and 07:00Z in summer, one notification per run", async function () {
      startClockAt("2026-01-04T12:00:00Z"); // a Sunday
      const { calls, notify } = recordingNotify();
      const weekly = scheduler({ schedules: definitions({ id: "weekly-digest", cron: "0 9 * * MON", timeZone: "Europe/Berlin" }), notify });
      await weekly.start();

      await skipTo("2026-01-05T07:58:00Z");
      await clock.tickAsync(119_999);
      assert.equal(calls.length, 0, "nothing before 08:00Z");
      await clock.tickAsync(60_000);
      assert.deepEqual(calls.map((call) => call.at), ["2026-01-05T08:00:00.000Z"]);
      assert.deepEqual(calls[0]!.request, {
        ...NOTIFICATION,
        category: "weekly-digest",
        idempotencyKey: "schedule:weekly-digest:2026-01-05T08:00:00.000Z",
      });
      assert.deepEqual(calls[0]!.meta, { triggeredBy: "schedule:weekly-digest" });

      await skipTo("2026-07-06T06:58:00Z"); // six months asleep: the missed Mondays are not run
      assert.equal(calls.length, 1);
      await clock.tickAsync(4 * 60_000);
      assert.deepEqual(calls.map((call) => call.at), ["2026-01-05T08:00:00.000Z", "2026-07-06T07:00:00.000Z"]);
      assert.equal(calls[1]!.request.idempotencyKey, "schedule:weekly-digest:2026-07-06T07:00:00.000Z");
    });

    it("keeps a category the schedule sets, and never runs a disabled schedule", async function () {
      startClockAt("2026-01-05T08:58:00Z");
      const { calls, notify } = recordingNotify();
      await scheduler({
        schedules: definitions(
          { id: "news", cron: "0 9 * * *", timeZone: "UTC", notification: { ...NOTIFICATION, category: "company news" } },
          { id: "paused", cron: "0 9 * * *", timeZone: "UTC", enabled: false },
        ),
        notify,
      }).start();
      await clock.tickAsync(4 * 60_000);
      assert.deepEqual(calls.map((call) => [call.meta.triggeredBy, call.request.category]), [["schedule:news", "company news"]]);
    });

    it("a 02:30 schedule on the spring-forward day runs once, at 03:00 local (the first valid time after the gap)", async function () {
      startClockAt("2026-03-07T07:00:00Z");
      const { calls, notify } = recordingNotify();
      await scheduler({ schedules: definitions({ id: "night", cron: "30 2 * * *", timeZone: "America/New_York" }), notify }).start();
      await passThrough("2026-03-07T07:30:00Z"); // 02:30 EST
      await skipTo("2026-03-08T06:00:00Z"); // 01:00 EST; at 02:00 the clocks jump to 03:00 EDT
      await clock.tickAsync(2 * 3600_000); // tick every second of the night
      await passThrough("2026-03-09T06:30:00Z"); // 02:30 EDT
      assert.deepEqual(calls.map((call) => call.at), ["2026-03-07T07:30:00.000Z", "2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z"]);
    });

    it("a 01:30 schedule on the fall-back day runs once, at the first 01:30", async function () {
      startClockAt("2026-11-01T05:00:00Z"); // 01:00 EDT; at 02:00 EDT the clocks go back to 01:00 EST
      const { calls, notify } = recordingNotify();
      await scheduler({ schedules: definitions({ id: "night", cron: "30 1 * * *", timeZone: "America/New_York" }), notify }).start();
      await clock.tickAsync(2 * 3600_000);
      assert.deepEqual(calls.map((call) => call.at), ["2026-11-01T05:30:00.000Z"]);
    });

    it("an interval schedule runs on both passes of the repeated hour (every 30 minutes of real time)", async function () {
      startClockAt("2026-11-01T04:59:00Z");
      const { calls, notify } = recordingNotify();
      await scheduler({ schedules: definitions({ id: "often", cron: "*/30 * * * *", timeZone: "America/New_York" }), notify }).start();
      await clock.tickAsync(2 * 3600_000 + 2 * 60_000);
      assert.deepEqual(calls.map((call) => call.at), [
        "2026-11-01T05:00:00.000Z", // 01:00 EDT
        "2026-11-01T05:30:00.000Z",
        "2026-11-01T06:00:00.000Z", // 01:00 EST
        "2026-11-01T06:30:00.000Z",
        "2026-11-01T07:00:00.000Z", // 02:00 EST
      ]);
    });
  });

  describe('"recipient" time zone', function () {
    it("sends each captured zone's group at its own 09:00, the default zone's group including unknown zones", async function () {
      startClockAt("2026-01-04T23:50:00Z");
      const { calls, notify } = recordingNotify();
      await scheduler({
        schedules: definitions({ id: "standup", cron: "0 9 * * MON-FRI", timeZone: "recipient" }),
        notify,
        defaultTimeZone: "Europe/Berlin",
        zonesProvider: async () => ["Asia/Tokyo", "America/New_York", "Europe/Berlin"],
      }).start();

      await passThrough("2026-01-05T00:00:00Z");
      await passThrough("2026-01-05T08:00:00Z");
      await passThrough("2026-01-05T14:00:00Z");

      assert.deepEqual(calls.map((call) => [call.at, call.request.idempotencyKey, call.meta]), [
        ["2026-01-05T00:00:00.000Z", "schedule:standup:2026-01-05T00:00:00.000Z|Asia/Tokyo",
          { triggeredBy: "schedule:standup", timeZoneFilter: { zones: ["Asia/Tokyo"], includeUnknown: false } }],
        ["2026-01-05T08:00:00.000Z", "schedule:standup:2026-01-05T08:00:00.000Z|Europe/Berlin",
          { triggeredBy: "schedule:standup", timeZoneFilter: { zones: ["Europe/Berlin"], includeUnknown: true } }],
        ["2026-01-05T14:00:00.000Z", "schedule:standup:2026-01-05T14:00:00.000Z|America/New_York",
          { triggeredBy: "schedule:standup", timeZoneFilter: { zones: ["America/New_York"], includeUnknown: false } }],
      ]);
      assert.ok(calls.every((call) => call.request.category === "standup"));
    });

    it("stays at 09:00 local across the autumn changes (Berlin 2026-10-25, New York 2026-11-01)", async function () {
      startClockAt("2026-10-24T00:00:00Z");
      const { calls, notify } = recordingNotify();
      await scheduler({
        schedules: definitions({ id: "daily", cron: "0 9 * * *", timeZone: "recipient" }),
        notify,
        defaultTimeZone: "Europe/Berlin",
        zonesProvider: async () => ["America/New_York"],
      }).start();

      // Written out, not computed with croner: CEST = UTC+2 until 10-25, then CET = UTC+1;
      // EDT = UTC-4 until 11-01, then EST = UTC-5.
      const expected: Array<[string, string]> = [];
      for (let day = 24; day <= 33; day++) {
        const date = day <= 31 ? `2026-10-${day}` : `2026-11-0${day - 31}`;
        expected.push([`${date}T${day < 25 ? "07" : "08"}:00:00.000Z`, "Europe/Berlin"]);
        expected.push([`${date}T${day < 32 ? "13" : "14"}:00:00.000Z`, "America/New_York"]);
      }
      for (const [at] of expected) await passThrough(at);

      assert.deepEqual(calls.map((call) => [call.at, zoneOf(call)]), expected);
    });

    it("picks up zones that appear later, runs a just-missed slot for them, and ignores invalid zones", async function () {
      startClockAt("2026-01-04T23:50:00Z");
      const { calls, notify } = recordingNotify();
      const { logger, lines } = capturingLogger();
      const answers = [["Europe/Berlin"], ["Europe/Berlin", "Asia/Tokyo", "Mars/Olympus_Mons"]];
      const provider = sinon.stub<[], Promise<string[]>>().callsFake(async () => answers.shift() ?? ["Europe/Berlin", "Asia/Tokyo"]);
      const standup = scheduler({
        schedules: definitions({ id: "standup", cron: "0 9 * * *", timeZone: "recipient" }),
        notify,
        logger,
        defaultTimeZone: "Europe/Berlin",
        zonesProvider: provider,
        zonesRefreshMinutes: 15,
      });
      await standup.start();
      assert.deepEqual(standup.status().map((entry) => entry.timeZone), ["Europe/Berlin"]);

      await clock.tickAsync(15 * 60_000); // 00:05Z: the refresh finds Tokyo 5 minutes after its 09:00
      assert.equal(provider.callCount, 2);
      assert.deepEqual(standup.status().map((entry) => entry.timeZone).sort(), ["Asia/Tokyo", "Europe/Berlin"]);
      assert.deepEqual(calls.map((call) => [call.at, call.request.idempotencyKey]), [
        ["2026-01-05T00:05:00.000Z", "schedule:standup:2026-01-05T00:00:00.000Z|Asia/Tokyo"],
      ]);
      assert.ok(lines.some((line) => line.level === 40 && line.timeZone === "Mars/Olympus_Mons"), "the invalid zone is reported");

      await passThrough("2026-01-06T00:00:00Z"); // the next day Tokyo runs on time
      assert.deepEqual(calls.filter((call) => zoneOf(call) === "Asia/Tokyo").map((call) => call.at),
        ["2026-01-05T00:05:00.000Z", "2026-01-06T00:00:00.000Z"]);
    });

    it("keeps the armed zones when the provider fails, and drops zones no recipient has any more", async function () {
      startClockAt("2026-01-05T10:00:00Z");
      const answers: Array<string[] | Error> = [["Asia/Tokyo"], new Error("store unavailable"), []];
      const provider = async () => {
        const answer = answers.shift() ?? [];
        if (answer instanceof Error) throw answer;
        return answer;
      };
      const standup = scheduler({
        schedules: definitions({ id: "standup", cron: "0 9 * * *", timeZone: "recipient" }),
        notify: recordingNotify().notify,
        defaultTimeZone: "UTC",
        zonesProvider: provider,
        zonesRefreshMinutes: 1,
      });
      await standup.start();
      const zones = () => standup.status().map((entry) => entry.timeZone).sort();
      assert.deepEqual(zones(), ["Asia/Tokyo", "UTC"]);
      await clock.tickAsync(60_000);
      assert.deepEqual(zones(), ["Asia/Tokyo", "UTC"], "a failing provider changes nothing");
      await clock.tickAsync(60_000);
      assert.deepEqual(zones(), ["UTC"], "the default zone always stays");
    });

    it("without a zonesProvider reaches the default zone's group only", async function () {
      startClockAt("2026-01-05T13:50:00Z");
      const { calls, notify } = recordingNotify();
      const standup = scheduler({
        schedules: definitions({ id: "standup", cron: "0 9 * * *", timeZone: "recipient" }),
        notify,
        defaultTimeZone: "America/New_York",
      });
      await standup.start();
      await passThrough("2026-01-05T14:00:00Z");
      assert.deepEqual(calls.map((call) => [call.at, call.meta.timeZoneFilter]), [
        ["2026-01-05T14:00:00.000Z", { zones: ["America/New_York"], includeUnknown: true }],
      ]);
    });
  });

  describe("once per slot", function () {
    const daily = () => definitions({ id: "daily", cron: "0 9 * * *", timeZone: "Europe/Berlin" });

    it("a restart within the catch-up window does not run the slot again (MemoryStore)", async function () {
      startClockAt("2026-01-05T07:55:00Z");
      const store = new MemoryStore().schedules;
      const first = recordingNotify();
      const before = scheduler({ schedules: daily(), notify: first.notify, store });
      await before.start();
      await passThrough("2026-01-05T08:00:00Z");
      await before.stop();
      assert.equal(first.calls.length, 1);

      await skipTo("2026-01-05T08:03:00Z");
      const second = recordingNotify();
      await scheduler({ schedules: daily(), notify: second.notify, store }).start();
      await clock.tickAsync(5 * 60_000);
      assert.equal(second.calls.length, 0);

      // Control: with a store that never saw the slot, the same restart does catch it up.
      const fresh = recordingNotify();
      await scheduler({ schedules: daily(), notify: fresh.notify }).start();
      await clock.tickAsync(0);
      assert.deepEqual(fresh.calls.map((call) => [call.at, call.request.idempotencyKey]), [
        ["2026-01-05T08:08:00.000Z", "schedule:daily:2026-01-05T08:00:00.000Z"],
      ]);
    });

    it("a restart on the same SQLite file does not run the slot again", async function () {
      const directory = mkdtempSync(path.join(tmpdir(), "herald-schedules-"));
      const file = path.join(directory, "herald.db");
      cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
      startClockAt("2026-01-05T07:55:00Z");

      const firstStore = new SqliteStore(file, silentLogger());
      cleanups.push(() => firstStore.close());
      const first = recordingNotify();
      const before = scheduler({ schedules: daily(), notify: first.notify, store: firstStore.schedules });
      await before.start();
      await passThrough("2026-01-05T08:00:00Z");
      await before.stop();
      await firstStore.close();

      const secondStore = new SqliteStore(file, silentLogger());
      cleanups.push(() => secondStore.close());
      const second = recordingNotify();
      await scheduler({ schedules: daily(), notify: second.notify, store: secondStore.schedules }).start();
      await clock.tickAsync(5 * 60_000);
      assert.deepEqual([first.calls.length, second.calls.length], [1, 0]);
      assert.equal((await secondStore.schedules.lastSlot("daily"))?.slot, "2026-01-05T08:00:00.000Z");
    });

    it("two processes sharing a store run a slot once", async function () {
      startClockAt("2026-01-05T07:55:00Z");
      const store = new MemoryStore().schedules;
      const { calls, notify } = recordingNotify();
      await scheduler({ schedules: daily(), notify, store }).start();
      await scheduler({ schedules: daily(), notify, store }).start();
      await passThrough("2026-01-05T08:00:00Z");
      assert.equal(calls.length, 1);
    });

    it("never runs a slot older than catchUpMinutes, and says so", async function () {
      startClockAt("2026-01-04T07:59:00Z");
      const store = new MemoryStore().schedules;
      const { calls, notify } = recordingNotify();
      const before = scheduler({ schedules: daily(), notify, store });
      await before.start();
      await clock.tickAsync(120_000);
      await before.stop();
      assert.equal(calls.length, 1);

      await skipTo("2026-01-05T08:11:00Z"); // down over the next 08:00Z slot, back 11 minutes late
      const { logger, lines } = capturingLogger();
      await scheduler({ schedules: daily(), notify, store, logger, catchUpMinutes: 10 }).start();
      await clock.tickAsync(5 * 60_000);
      assert.equal(calls.length, 1);
      const missed = lines.find((line) => String(line.msg).includes("missed"));
      assert.equal(missed?.firstMissed, "2026-01-05T08:00:00.000Z");
    });

    it("does not overlap a run that is still in progress, then runs the latest slot that is due", async function () {
      startClockAt("2026-01-05T08:58:00Z");
      let running = 0;
      let mostAtOnce = 0;
      let release!: () => void;
      const calls: Array<{ at: string; key?: string }> = [];
      const notify: Notify = async (request) => {
        calls.push({ at: new Date().toISOString(), key: request.idempotencyKey });
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        if (calls.length === 1) await new Promise<void>((resolve) => (release = resolve));
        running--;
        return { id: `job-${calls.length}`, created: true };
      };
      await scheduler({ schedules: definitions({ id: "often", cron: "0,5,10,15 9 * * *", timeZone: "UTC" }), notify }).start();

      await clock.tickAsync(14 * 60_000); // 09:12: the 09:00 run is still going; 09:05 and 09:10 came and went
      try {
        assert.equal(calls.length, 1);
      } finally {
        release(); // also on failure, so that stop() in afterEach does not wait for it
      }
      await clock.tickAsync(5 * 60_000); // to 09:17
      assert.equal(mostAtOnce, 1);
      assert.deepEqual(calls.map((call) => call.key), [
        "schedule:often:2026-01-05T09:00:00.000Z",
        "schedule:often:2026-01-05T09:10:00.000Z", // late, coalescing the 09:05 slot it overlapped
        "schedule:often:2026-01-05T09:15:00.000Z",
      ]);
      assert.equal(calls[2]!.at, "2026-01-05T09:15:00.000Z");
    });
  });

  describe("failures", function () {
    const daily = () => definitions({ id: "daily", cron: "0 9 * * *", timeZone: "UTC" });

    it("retries a failing notify with the same idempotency key", async function () {
      startClockAt("2026-01-05T08:59:00Z");
      const notify = sinon.stub<Parameters<Notify>, ReturnType<Notify>>();
      notify.onCall(0).rejects(new Error("store busy"));
      notify.onCall(1).rejects(new Error("store busy"));
      notify.resolves({ id: "job-1", created: true });
      await scheduler({ schedules: daily(), notify, retryDelaysMs: [5_000, 30_000] }).start();

      await clock.tickAsync(60_000);
      assert.equal(notify.callCount, 1);
      await clock.tickAsync(5_000);
      assert.equal(notify.callCount, 2);
      await clock.tickAsync(30_000);
      assert.equal(notify.callCount, 3);
      await clock.tickAsync(10 * 60_000);
      assert.equal(notify.callCount, 3);
      const keys = notify.getCalls().map((call) => call.args[0].idempotencyKey);
      assert.deepEqual(keys, Array(3).fill("schedule:daily:2026-01-05T09:00:00.000Z"));
    });

    it("gives up after the last retry, logs the idempotency key, and keeps the slot claimed", async function () {
      startClockAt("2026-01-05T08:59:00Z");
      const store: ScheduleRunStore = new MemoryStore().schedules;
      const notify = sinon.stub<Parameters<Notify>, ReturnType<Notify>>().rejects(new Error("audience lookup failed"));
      const { logger, lines } = capturingLogger();
      const failing = scheduler({ schedules: daily(), notify, store, logger, retryDelaysMs: [1_000] });
      await failing.start();
      await clock.tickAsync(2 * 60_000);
      assert.equal(notify.callCount, 2);
      const gaveUp = lines.find((line) => line.level === 50 && line.idempotencyKey);
      assert.equal(gaveUp?.idempotencyKey, "schedule:daily:2026-01-05T09:00:00.000Z");
      await failing.stop();

      const { calls, notify: working } = recordingNotify();
      await scheduler({ schedules: daily(), notify: working, store }).start(); // 09:01: within catch-up
      await clock.tickAsync(60_000);
      assert.equal(calls.length, 0);
    });

    it("stop() ends a retry wait instead of hanging, and nothing runs afterwards", async function () {
      startClockAt("2026-01-05T08:59:00Z");
      const notify = sinon.stub<Parameters<Notify>, ReturnType<Notify>>().rejects(new Error("down"));
      const daily2 = scheduler({ schedules: daily(), notify, retryDelaysMs: [3600_000] });
      await daily2.start();
      await clock.tickAsync(2 * 60_000);
      assert.equal(notify.callCount, 1);
      await daily2.stop(); // would wait an hour if the retry wait were not woken
      await passThrough("2026-01-06T09:00:00Z");
      assert.equal(notify.callCount, 1);
    });
  });
});
