import { strict as assert } from "node:assert";
import { allDeliveries, reportWhen, storePersonalInstalls } from "../support/copies";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";

const TENANT = "tenant-hours-api";
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** Issue 11, item 4, through the API: validation, and the report of held deliveries (the engine's side: test/delivery/working-hours.test.ts). */
describe("deliverWithin through the API", function () {
  this.timeout(30_000);
  let fx: HeraldFixture;

  before(async () => {
    fx = await startHerald({ tenant: { tenantId: TENANT, users: 3 } });
    await storePersonalInstalls(fx.store, fx.serviceUrl, fx.tenant.users);
  });
  after(() => fx.stop());

  it("refuses a malformed window with a 400 naming the field, storing nothing", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ start: "9:00", end: "17:00", days: ["mon"] }, /^deliverWithin\.start: start must be a 24-hour time "HH:MM"/],
      [{ start: "09:00", end: "24:00", days: ["mon"] }, /^deliverWithin\.end: end must be a 24-hour time/],
      [{ start: "17:00", end: "09:00", days: ["mon"] }, /^deliverWithin\.end: end must be after start \(a window cannot cross midnight\)/],
      [{ start: "09:00", end: "17:00", days: [] }, /^deliverWithin\.days: days must name at least one weekday/],
      [{ start: "09:00", end: "17:00", days: ["monday"] }, /^deliverWithin\.days\.0: days must be among mon, tue/],
      [{ start: "09:00", end: "17:00", days: ["mon", "mon"] }, /^deliverWithin\.days: days names a weekday twice/],
      [{ start: "09:00", end: "17:00", days: ["mon"], zone: "UTC" }, /^deliverWithin: unknown field\(s\): zone/],
      ["9-5", /^deliverWithin: deliverWithin must be an object/],
    ];
    const before = (await fx.store.jobs.listJobs(100)).items.length;
    for (const [deliverWithin, expected] of cases) {
      const res = await fx.api("POST", "/api/notifications", { title: "t", text: "x", deliverWithin });
      assert.equal(res.status, 400, JSON.stringify(deliverWithin));
      assert.match(res.body.error.message, expected);
    }
    assert.equal((await fx.store.jobs.listJobs(100)).items.length, before);
  });

  it("reports held deliveries, each with when it is due and why", async () => {
    // A window only on a day that is not today anywhere on Earth right now (two days ahead, UTC).
    const day = DAYS[(new Date().getUTCDay() + 2) % 7]!;
    const res = await fx.api("POST", "/api/notifications", {
      title: "Quarterly review", text: "x", deliverWithin: { start: "09:00", end: "17:00", days: [day] },
      audience: { kind: "installations", types: ["personal"], tenantId: TENANT },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body.deliverWithin, { start: "09:00", end: "17:00", days: [day] });
    const report = await reportWhen(fx, res.body.id, (r) => r.counts.held === 3, "three held deliveries");
    assert.equal(report.status, "running");
    assert.equal(report.counts.pending, 3);
    const held = await allDeliveries(fx, res.body.id, "held=true");
    assert.equal(held.length, 3);
    for (const d of held) {
      assert.ok(Date.parse(d.dueAt) > Date.now(), `${d.recipientKey} is due later`);
      assert.match(d.reason, /^held until 09:00 \w{3} \d+ \w{3} \d{4} \(.+\): outside the recipient's working hours/);
    }
    assert.equal(fx.emulator.delivered().length, 0);
  });
});
