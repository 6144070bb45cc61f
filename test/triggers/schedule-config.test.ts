import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadSchedules, parseSchedules, ScheduleConfigError } from "../../src/triggers/schedules/schedule-config";

const EXAMPLES = path.join(__dirname, "..", "..", "examples");
const NOTIFICATION = { title: "Stand-up", text: "In 15 minutes" };

/** The problems parseSchedules reports for `schedules` (fails the test when it accepts them). */
function problemsOf(schedules: unknown): string[] {
  try {
    parseSchedules({ schedules });
  } catch (error) {
    assert.ok(error instanceof ScheduleConfigError, String(error));
    return error.problems;
  }
  assert.fail("the schedules were accepted");
}

describe("schedule config", function () {
  describe("parseSchedules", function () {
    it("accepts fixed-zone and recipient-zone schedules and keeps what they say", function () {
      const [weekly, standup] = parseSchedules({
        schedules: [
          { id: "weekly-digest", cron: "0 9 * * MON", timeZone: "Europe/Berlin", notification: { ...NOTIFICATION, category: "digest" } },
          { id: "standup", cron: "@daily", timeZone: "recipient", enabled: false, notification: { ...NOTIFICATION, audience: { kind: "installations", types: ["personal"] } } },
        ],
      });
      assert.deepEqual(weekly, { id: "weekly-digest", cron: "0 9 * * MON", timeZone: "Europe/Berlin", notification: { ...NOTIFICATION, category: "digest" } });
      assert.equal(standup?.timeZone, "recipient");
      assert.equal(standup?.enabled, false);
      assert.deepEqual(standup?.notification.audience, { kind: "installations", types: ["personal"] });
    });

    it("accepts an empty list", function () {
      assert.deepEqual(parseSchedules({ schedules: [] }), []);
    });

    it("rejects an unknown time zone, naming the schedule and the field", function () {
      const problems = problemsOf([{ id: "standup", cron: "0 9 * * *", timeZone: "Europe/Berlinn", notification: NOTIFICATION }]);
      assert.deepEqual(problems, ['schedule "standup": timeZone: timeZone "Europe/Berlinn" is neither an IANA time zone (such as "Europe/Berlin") nor "recipient"']);
    });

    it("names the schedule and the nested field of a bad notification", function () {
      const problems = problemsOf([
        { id: "ok", cron: "0 9 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "standup", cron: "0 9 * * *", timeZone: "UTC", notification: { title: "", text: "x", audience: { kind: "users", users: [] } } },
      ]);
      assert.deepEqual(problems, [
        'schedule "standup": notification.title: title must not be empty',
        'schedule "standup": notification.audience.users: users must not be empty',
      ]);
    });

    it("reports every bad schedule at once, by position when the id itself is missing", function () {
      const problems = problemsOf([
        { cron: "0 9 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "digest", cron: "0 25 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "report", timeZone: "UTC", notification: NOTIFICATION, colour: "blue" },
      ]);
      assert.equal(problems.length, 4, problems.join("\n"));
      assert.ok(problems.includes("schedules[0]: id: id is required"), problems.join("\n"));
      assert.ok(problems.some((problem) => problem.startsWith('schedule "digest": cron: cron "0 25 * * *" is not valid') && problem.includes("hour")), problems.join("\n"));
      assert.ok(problems.includes('schedule "report": cron: cron is required'), problems.join("\n"));
      assert.ok(problems.includes('schedule "report": unknown field(s): colour'), problems.join("\n"));
    });

    it("takes five-field cron only, and refuses patterns that never fire", function () {
      const [seconds, never, nickname] = [
        problemsOf([{ id: "a", cron: "0 0 9 * * *", timeZone: "UTC", notification: NOTIFICATION }]),
        problemsOf([{ id: "b", cron: "0 9 30 2 *", timeZone: "UTC", notification: NOTIFICATION }]),
        problemsOf([{ id: "c", cron: "@fortnightly", timeZone: "UTC", notification: NOTIFICATION }]),
      ];
      assert.match(seconds[0]!, /^schedule "a": cron: cron "0 0 9 \* \* \*" is not valid \(.*5 parts/);
      assert.deepEqual(never, ['schedule "b": cron: cron "0 9 30 2 *" never fires']);
      assert.match(nickname[0]!, /^schedule "c": cron: /);
    });

    it("refuses duplicate ids, ids that cannot be a category, and an idempotencyKey", function () {
      const problems = problemsOf([
        { id: "digest", cron: "0 9 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "digest", cron: "0 10 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "a:b", cron: "0 9 * * *", timeZone: "UTC", notification: NOTIFICATION },
        { id: "keyed", cron: "0 9 * * *", timeZone: "UTC", notification: { ...NOTIFICATION, idempotencyKey: "mine" } },
      ]);
      assert.deepEqual(problems, [
        'schedule "a:b": id: id must be 1-64 letters, digits, _ . - and start with a letter or digit',
        'schedule "keyed": notification.idempotencyKey: idempotencyKey is set by the scheduler (schedule:<id>:<slot>); remove it',
        'schedule "digest": id: id "digest" is used by more than one schedule',
      ]);
    });

    it("explains a document that is not {schedules: [...]}", function () {
      assert.throws(() => parseSchedules([{ id: "x" }], "schedules.json"),
        (error: unknown) => error instanceof ScheduleConfigError && error.message.startsWith("schedules.json is invalid") &&
          error.problems[0] === 'the file must hold an object: {"schedules": [...]}');
      assert.throws(() => parseSchedules({ schedule: [] }),
        (error: unknown) => error instanceof ScheduleConfigError && error.problems.some((problem) => problem.includes("unknown field(s): schedule")));
    });
  });

  describe("loadSchedules", function () {
    let directory: string;

    beforeEach(function () {
      directory = mkdtempSync(path.join(tmpdir(), "herald-schedule-config-"));
    });

    afterEach(function () {
      rmSync(directory, { recursive: true, force: true });
    });

    it("loads the JSON and YAML examples, which say the same thing", async function () {
      const json = await loadSchedules(path.join(EXAMPLES, "schedules.example.json"));
      const yaml = await loadSchedules(path.join(EXAMPLES, "schedules.example.yaml"));
      assert.deepEqual(json.map((schedule) => schedule.id), ["weekly-digest", "standup", "timesheets", "quarterly-survey"]);
      assert.deepEqual(yaml, json);
    });

    it("names the file when it is missing, malformed, or of an unknown kind", async function () {
      const missing = path.join(directory, "nope.json");
      await assert.rejects(loadSchedules(missing), (error: unknown) =>
        error instanceof ScheduleConfigError && error.source === missing && error.problems[0] === "cannot be read (ENOENT)");

      const broken = path.join(directory, "broken.json");
      writeFileSync(broken, '{"schedules": [');
      await assert.rejects(loadSchedules(broken), (error: unknown) =>
        error instanceof ScheduleConfigError && error.source === broken && error.problems[0]!.startsWith("is not valid JSON"));

      const text = path.join(directory, "schedules.txt");
      writeFileSync(text, "{}");
      await assert.rejects(loadSchedules(text), /must end in \.json, \.yaml or \.yml/);
    });

    it("reports a bad entry of a YAML file with the file, schedule and field", async function () {
      const file = path.join(directory, "schedules.yml");
      writeFileSync(file, 'schedules:\n  - id: standup\n    cron: "0 9 * * *"\n    timeZone: Mars/Base\n    notification: { title: Hi, text: there }\n');
      await assert.rejects(loadSchedules(file), (error: unknown) =>
        error instanceof ScheduleConfigError && error.message.startsWith(`${file} is invalid`) &&
        error.problems[0]!.startsWith('schedule "standup": timeZone: timeZone "Mars/Base"'));
    });
  });
});
