import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sinon from "sinon";
import type { DeliveryEngine } from "../../src/delivery/engine";
import { holdReason, nextOpening } from "../../src/delivery/working-hours";
import type { ConnectorEmulator, SeededUser } from "../../src/emulator";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";
import type { DeliveryWindow, HeraldStore } from "../../src/store/types";
import { eventually } from "../support/herald-fixture";
import { botConnector, createJob, installPersonal, newEngine, startEmulator } from "./support";

const WEEKDAYS: DeliveryWindow = { start: "09:00", end: "17:00", days: ["mon", "tue", "wed", "thu", "fri"] };
const at = (iso: string) => Date.parse(iso);

describe("delivery/working hours: holding each delivery until the recipient's window opens, in their zone", function () {
  this.timeout(60_000);

  describe("the next opening (croner and Intl do the zone arithmetic)", () => {
    it("is undefined while the window is open and the next weekday's start when it is closed, DST included", () => {
      assert.equal(nextOpening(WEEKDAYS, "Europe/Berlin", at("2026-03-09T08:00:00Z")), undefined, "09:00 in Berlin on a Monday");
      assert.equal(nextOpening(WEEKDAYS, "Europe/Berlin", at("2026-03-09T15:59:59Z")), undefined);
      assert.equal(nextOpening(WEEKDAYS, "Europe/Berlin", at("2026-03-09T16:00:00Z")), at("2026-03-10T08:00:00Z"), "17:00 is closed");
      // New York moves to daylight time on Sunday 8 March 2026: Monday 09:00 is 13:00 UTC, not 14:00.
      assert.equal(nextOpening(WEEKDAYS, "America/New_York", at("2026-03-07T12:00:00Z")), at("2026-03-09T13:00:00Z"));
      assert.equal(nextOpening(WEEKDAYS, "America/New_York", at("2026-03-06T23:00:00Z")), at("2026-03-09T13:00:00Z"), "Friday 18:00 EST");
      // Berlin moves on 29 March: the Friday before opens at 08:00 UTC, the Monday after at 07:00 UTC.
      assert.equal(nextOpening(WEEKDAYS, "Europe/Berlin", at("2026-03-26T17:00:00Z")), at("2026-03-27T08:00:00Z"));
      assert.equal(nextOpening(WEEKDAYS, "Europe/Berlin", at("2026-03-27T17:00:00Z")), at("2026-03-30T07:00:00Z"));
      assert.equal(nextOpening({ start: "22:00", end: "23:30", days: ["sun"] }, "Asia/Kolkata", at("2026-03-09T00:00:00Z")), at("2026-03-15T16:30:00Z"));
      assert.equal(holdReason(WEEKDAYS, "America/New_York", at("2026-03-09T13:00:00Z")),
        "held until 09:00 Mon 9 Mar 2026 (America/New_York): outside the recipient's working hours (09:00-17:00 mon,tue,wed,thu,fri)");
    });
  });

  describe("the engine", () => {
    let dir: string;
    let emulator: ConnectorEmulator;
    let serviceUrl: string;
    let clock: sinon.SinonFakeTimers;
    let store: HeraldStore;
    let engine: DeliveryEngine | undefined;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "herald-hours-"));
      ({ emulator, serviceUrl } = await startEmulator({ limits: false }));
      // Only Date is faked: timers, sockets and the store run in real time; the test moves the calendar.
      clock = sinon.useFakeTimers({ now: at("2026-03-07T12:00:00Z"), toFake: ["Date"], shouldAdvanceTime: true });
      store = new SqliteStore(join(dir, "herald.db"), silentLogger());
    });
    afterEach(async () => {
      await engine?.stop();
      engine = undefined;
      clock.restore();
      await store.close();
      await emulator.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const start = async () => {
      engine = newEngine(store, botConnector(), { defaultTimeZone: "Asia/Tokyo", workPollMs: 50 });
      await engine.start();
      return engine;
    };
    const delivered = (user: SeededUser) => emulator.delivered(user.personalConversationId).length;

    it("a window closed now holds each delivery until it opens in the recipient's zone (two zones, one across a DST change, and the default zone), durably and without spinning", async () => {
      const tenant = emulator.seed({ tenantId: "t-hours", users: 3 });
      const [berlin, newYork, unknown] = tenant.users;
      const recipients = [
        await installPersonal(store, serviceUrl, berlin!),
        await installPersonal(store, serviceUrl, newYork!),
        await installPersonal(store, serviceUrl, unknown!),
      ];
      recipients[0]!.recipient.timeZone = "Europe/Berlin";
      recipients[1]!.recipient.timeZone = "America/New_York";
      delete recipients[2]!.recipient.timeZone; // read in HERALD_DEFAULT_TIMEZONE (Asia/Tokyo here)
      const job = await createJob(store, recipients, { deliverWithin: WEEKDAYS });

      // Saturday: every window is closed.
      (await start()).wake(job.id);
      await eventually(async () => (await store.jobs.copyCounts(job.id)).held === 3, "three held deliveries");
      await eventually(() => engine!.stats().activeSlices === 0, "the slice to go to sleep");
      const held = await store.jobs.listDeliveries(job.id, 10, undefined, "pending", { held: true });
      assert.deepEqual(held.items.map((d) => new Date(d.notBefore!).toISOString()), [
        "2026-03-09T08:00:00.000Z", // 09:00 Monday in Berlin (CET)
        "2026-03-09T13:00:00.000Z", // 09:00 Monday in New York, the day after it moved to EDT
        "2026-03-09T00:00:00.000Z", // 09:00 Monday in Tokyo
      ]);
      assert.match(held.items[1]!.reason!, /^held until 09:00 Mon 9 Mar 2026 \(America\/New_York\)/);
      assert.equal(emulator.delivered().length, 0);
      const [item] = (await store.work.list()).filter((w) => w.id === job.id);
      assert.equal(item!.data.notBefore, at("2026-03-09T00:00:00Z"), "the slice's work item says when the earliest is due");

      // Held deliveries are not kept in memory, and the slice does not spin on them.
      const reads = sinon.spy(store.jobs, "listDeliveriesByStatus");
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(reads.callCount, 0, "no delivery was read while everything is held");
      assert.equal(engine!.stats().queued, 0);
      reads.restore();

      // Monday 09:00 in Tokyo: only the Tokyo delivery goes.
      clock.setSystemTime(at("2026-03-09T00:00:05Z"));
      await eventually(() => delivered(unknown!) === 1, "the Tokyo delivery");
      await eventually(() => engine!.stats().activeSlices === 0, "the slice to sleep again");
      assert.equal(delivered(berlin!) + delivered(newYork!), 0);
      assert.equal((await store.jobs.copyCounts(job.id)).held, 2);

      // A restart while held: the holds are in the store and the new engine waits for them too.
      await engine!.stop();
      await store.close();
      store = new SqliteStore(join(dir, "herald.db"), silentLogger());
      await start();
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(delivered(berlin!) + delivered(newYork!), 0, "still held after the restart");

      clock.setSystemTime(at("2026-03-09T08:00:05Z"));
      await eventually(() => delivered(berlin!) === 1, "the Berlin delivery");
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(delivered(newYork!), 0, "New York opens at 13:00 UTC");

      clock.setSystemTime(at("2026-03-09T13:00:05Z"));
      await eventually(async () => (await store.jobs.getJob(job.id))?.status === "completed", "the job");
      assert.deepEqual([berlin!, newYork!, unknown!].map(delivered), [1, 1, 1]);
      const counts = await store.jobs.counts(job.id);
      assert.equal(counts.sent, 3);
      assert.equal((await store.jobs.copyCounts(job.id)).held, 0);
      assert.equal((await store.work.list()).filter((w) => w.id === job.id).length, 0);
    });

    it("a window open now sends at once; a recipient whose window closes is held while the others go", async () => {
      clock.setSystemTime(at("2026-03-10T16:30:00Z")); // Tuesday: 17:30 in Berlin (closed), 12:30 in New York (open)
      const tenant = emulator.seed({ tenantId: "t-hours-2", users: 2 });
      const [berlin, newYork] = tenant.users;
      const recipients = [await installPersonal(store, serviceUrl, berlin!), await installPersonal(store, serviceUrl, newYork!)];
      recipients[0]!.recipient.timeZone = "Europe/Berlin";
      recipients[1]!.recipient.timeZone = "America/New_York";
      const job = await createJob(store, recipients, { deliverWithin: WEEKDAYS });
      (await start()).wake(job.id);
      await eventually(() => delivered(newYork!) === 1, "New York, open now");
      await eventually(async () => (await store.jobs.copyCounts(job.id)).held === 1, "Berlin held");
      assert.equal(delivered(berlin!), 0);
      assert.equal((await store.jobs.getDelivery(job.id, recipients[0]!.recipientKey))?.notBefore, at("2026-03-11T08:00:00Z"));
    });
  });
});
