import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHerald, type Herald } from "../src/app";
import { loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import type { Job } from "../src/store/types";
import { eventually, startHerald } from "./support/herald-fixture";

/**
 * The timer trigger inside a running Herald: schedules from HERALD_SCHEDULES_FILE, sent through the engine, in a
 * fixed zone and in each recipient's zone, and a slot not run twice by a restarted Herald. (Cron arithmetic, DST
 * and catch-up rules are covered with a fake clock in test/triggers/.) A cron of every minute is due at start, so
 * the scheduler's catch-up runs it at once.
 */
describe("schedules in a running Herald", function () {
  this.timeout(90_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-schedules-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const jobsOf = async (store: SqliteStore, triggeredBy: string): Promise<Job[]> =>
    (await store.jobs.listJobs(200)).items.filter((job) => job.triggeredBy === triggeredBy);

  it("runs a fixed-zone schedule and a recipient-zone schedule once per slot, across a restart", async () => {
    // Start well inside a minute, so the restart below happens within the same minute's slot.
    const second = new Date().getUTCSeconds();
    if (second > 40) await new Promise((r) => setTimeout(r, (61 - second) * 1000));

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
    const startWithSchedules = async (): Promise<Herald> => {
      const herald = await createHerald(config, silentLogger(), { store: new SqliteStore(dbPath, silentLogger()) });
      await herald.start();
      return herald;
    };

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
        assert.ok(setup.emulator.delivered(user.personalConversationId).length >= 1, `${user.id} got the standup`);
      }

      // One job per recipient zone group; each reaches only the people in that zone.
      const local = (await eventually(async () => {
        const jobs = await jobsOf(store, "schedule:local-time");
        return jobs.length >= 2 && jobs.every((job) => job.status === "completed") ? jobs : undefined;
      }, "the recipient-time schedule to run in each zone"))!;
      const zonesReached: string[][] = [];
      for (const job of local) {
        const page = await store.jobs.listDeliveries(job.id, 100);
        zonesReached.push([...new Set(page.items.map((d) => d.recipient.timeZone ?? "unknown"))]);
      }
      assert.deepEqual(zonesReached.filter((z) => z.length > 0).map((z) => z.length), zonesReached.filter((z) => z.length > 0).map(() => 1), "each group is one zone");
      assert.deepEqual(new Set(zonesReached.flat()), new Set(["Asia/Tokyo", "America/New_York"]));
    } finally {
      await first.stop();
    }

    // A restart within the same minute does not run that slot again.
    const again = await startWithSchedules();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const store = again.store as SqliteStore;
      const standups = await jobsOf(store, "schedule:minutely");
      const slots = new Set(standups.map((job) => job.idempotencyKey));
      assert.equal(standups.length, slots.size, "one job per slot");
      const started = new Date(standups[0].createdAt);
      if (new Date().getUTCMinutes() === started.getUTCMinutes()) assert.equal(standups.length, 1, "the slot was not run again");
    } finally {
      await again.stop();
      setup.driver.close();
      await setup.emulator.stop();
    }
  });
});
