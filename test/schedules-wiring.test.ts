import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import sinon from "sinon";
import { createHerald, type Herald } from "../src/app";
import { loadConfig } from "../src/config";
import { silentLogger, type Logger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import type { Job } from "../src/store/types";
import { activityText, eventually, startHerald } from "./support/herald-fixture";
import { captureLog } from "./support/log-capture";

/**
 * The timer trigger inside a running Herald: schedules from HERALD_SCHEDULES_FILE, sent through the engine, in a
 * fixed zone and in each recipient's zone, and a slot not run twice by a restarted Herald. (Cron arithmetic, DST
 * and catch-up rules are covered with a fake clock in test/triggers/.) A cron of every minute is due at start, so
 * the scheduler's catch-up runs it at once.
 *
 * Only Date is faked: it starts 5 s into a minute and advances with real time (timers, I/O and the engine stay
 * real), so the first run and the restart fall into that minute's slot whatever the wall clock says; the test then
 * moves Date on to the next minute to see that slot run.
 */
describe("schedules in a running Herald", function () {
  this.timeout(90_000);
  let dir: string;
  let clock: sinon.SinonFakeTimers | undefined;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-schedules-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => clock?.restore());

  const jobsOf = async (store: SqliteStore, triggeredBy: string): Promise<Job[]> =>
    (await store.jobs.listJobs(200)).items.filter((job) => job.triggeredBy === triggeredBy);

  it("runs a fixed-zone schedule and a recipient-zone schedule once per slot, across a restart", async () => {
    clock = sinon.useFakeTimers({ now: Math.ceil(Date.now() / 60_000) * 60_000 + 5_000, toFake: ["Date"], shouldAdvanceTime: true });

    const dbPath = path.join(dir, "herald.db");
    const schedulesFile = path.join(dir, "schedules.json");
    writeFileSync(schedulesFile, JSON.stringify({
      schedules: [
        { id: "minutely", cron: "* * * * *", timeZone: "UTC", notification: { title: "Standup", text: "What are you working on?" } },
        { id: "local-time", cron: "* * * * *", timeZone: "recipient", notification: { title: "Your morning", text: "in your zone", audience: { kind: "installations", types: ["personal"] } } },
      ],
    }));
    const tenant = { tenantId: "tenant-schedules", users: 4, timeZones: ["Asia/Tokyo", "America/New_York"] };

    // Installs first, without schedules: two people in Tokyo, two in New York. The emulator (where the
    // installs' serviceUrl points) stays up for the Heralds that follow.
    const setup = await startHerald({ tenant, store: new SqliteStore(dbPath, silentLogger()) });
    for (const user of setup.tenant.users) await setup.driver.installPersonal(user);
    await setup.herald.stop();
    const config = loadConfig({ PORT: "0", HERALD_SCHEDULES_FILE: schedulesFile, HERALD_DEFAULT_TIMEZONE: "Europe/Berlin" });
    const startWithSchedules = async (logger: Logger = silentLogger()): Promise<Herald> => {
      const herald = await createHerald(config, logger, { store: new SqliteStore(dbPath, silentLogger()) });
      await herald.start();
      return herald;
    };

    let localJobs: Job[];
    const first = await startWithSchedules();
    try {
      const store = first.store as SqliteStore;
      const [standup] = (await eventually(async () => {
        const jobs = await jobsOf(store, "schedule:minutely");
        return jobs.length && jobs[0].status === "completed" ? jobs : undefined;
      }, "the minutely schedule to run"))!;
      assert.equal(standup.category, "minutely", "people can stop this schedule by its id");
      assert.equal((await store.jobs.counts(standup.id)).sent, 4);
      for (const user of setup.tenant.users) {
        const standups = setup.emulator.delivered(user.personalConversationId).filter((d) => /Standup/.test(activityText(d.activity)));
        assert.equal(standups.length, 1, `${user.id} got the standup once`);
      }

      // One job per recipient zone group (Tokyo, New York, and the default zone's); each reaches only the people in that zone.
      localJobs = (await eventually(async () => {
        const jobs = await jobsOf(store, "schedule:local-time");
        return jobs.length === 3 && jobs.every((job) => job.status === "completed") ? jobs : undefined;
      }, "the recipient-time schedule to run in each zone"))!;
      const zonesReached: string[][] = [];
      for (const job of localJobs) {
        const page = await store.jobs.listDeliveries(job.id, 100);
        zonesReached.push([...new Set(page.items.map((d) => d.recipient.timeZone ?? "unknown"))]);
      }
      assert.deepEqual(zonesReached.map((z) => z.length).sort(), [0, 1, 1], "each group is one zone (nobody is in Berlin)");
      assert.deepEqual(new Set(zonesReached.flat()), new Set(["Asia/Tokyo", "America/New_York"]));
    } finally {
      await first.stop();
    }

    // A restart within the same minute finds each slot claimed and runs nothing again.
    const log = captureLog("debug");
    const again = await startWithSchedules(log.logger);
    try {
      const alreadyRun = (scheduleId: string) =>
        log.entries().filter((e) => e.scheduleId === scheduleId && e.msg === "slot already run (by this or another process)").length;
      await eventually(() => alreadyRun("minutely") === 1 && alreadyRun("local-time") === 3, "the restarted scheduler to find every slot of this minute already run");
      const store = again.store as SqliteStore;
      assert.equal((await jobsOf(store, "schedule:minutely")).length, 1, "the slot was not run again");
      assert.equal((await jobsOf(store, "schedule:local-time")).length, localJobs.length);
      for (const user of setup.tenant.users) {
        const titles = setup.emulator.delivered(user.personalConversationId)
          .map((d) => activityText(d.activity).split("\n")[0]).filter((title) => title === "Standup" || title === "Your morning");
        assert.deepEqual(titles.sort(), ["Standup", "Your morning"], `${user.id} got each scheduled message once`);
      }
    } finally {
      await again.stop();
    }

    // The next minute's slot is a new slot: the same restart runs it.
    clock.tick(60_000);
    const later = await startWithSchedules();
    try {
      const store = later.store as SqliteStore;
      const standups = (await eventually(async () => {
        const jobs = await jobsOf(store, "schedule:minutely");
        return jobs.length === 2 && jobs.every((job) => job.status === "completed") ? jobs : undefined;
      }, "the next minute's standup"))!;
      assert.equal(new Set(standups.map((job) => job.idempotencyKey)).size, 2, "one job per slot");
    } finally {
      await later.stop();
      setup.driver.close();
      await setup.emulator.stop();
    }
  });
});
