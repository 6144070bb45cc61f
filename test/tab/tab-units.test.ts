import { strict as assert } from "node:assert";
import type { Request } from "restify";
import { ApiError } from "../../src/api/errors";
import type { NotificationReport } from "../../src/delivery/notification-service";
import { MemoryStore } from "../../src/store/memory";
import { progressOf } from "../../src/tab/progress";
import { TabIdentity } from "../../src/tab/tab-identity";

const report = (over: Omit<Partial<NotificationReport>, "counts"> & { counts?: Partial<NotificationReport["counts"]> }): NotificationReport => ({
  id: "n1", status: "running", contentVersion: 1, title: "t", triggeredBy: "api", audience: { kind: "all" }, createdAt: "2026-01-01T00:00:00.000Z",
  ...over,
  counts: { total: 100, sent: 0, failed: 0, gone: 0, skipped: 0, pending: 100, cancelled: 0, throttleRetries: 0, acknowledged: 0, held: 0, ...over.counts },
});

describe("tab: live progress", () => {
  it("computes how much is settled, the rate since sending started and the time left", () => {
    const p = progressOf(report({ startedAt: "2026-01-01T00:00:00.000Z", counts: { sent: 30, skipped: 5, failed: 5, pending: 60 } }), new Date("2026-01-01T00:00:20.000Z"));
    assert.equal(p.done, 0.4);
    assert.equal(p.ratePerSecond, 2);
    assert.equal(p.etaSeconds, 30);
  });

  it("has no rate before sending starts, and no time left once finished (the rate is over the whole run)", () => {
    assert.equal(progressOf(report({})).ratePerSecond, undefined);
    const done = progressOf(report({ status: "completed", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: "2026-01-01T00:00:50.000Z", counts: { sent: 100, pending: 0 } }), new Date("2026-01-02T00:00:00.000Z"));
    assert.deepEqual([done.done, done.ratePerSecond, done.etaSeconds], [1, 2, undefined]);
    assert.equal(progressOf(report({ status: "completed", counts: { total: 0, pending: 0 } })).done, 1, "an empty audience is done");
  });
});

describe("tab: local mode identity", () => {
  const store = new MemoryStore();
  before(() => store.members.upsertMembers("_t_a:1", [{ tenantId: "t", userId: "29:1", aadObjectId: "aad-1", serviceUrl: "https://s/" }]));
  const request = (remoteAddress: string): Request => ({ headers: { "x-herald-as": "aad-1" }, socket: { remoteAddress } } as unknown as Request);
  const status = async (identity: TabIdentity, req: Request) => identity.identify(req).then(() => 200, (e: ApiError) => e.status);

  it("accepts ?as= from loopback only, and only without BOT_ID", async () => {
    const local = new TabIdentity({ senders: [], localMode: true, store });
    assert.equal(await status(local, request("127.0.0.1")), 200);
    assert.equal(await status(local, request("::1")), 200);
    assert.equal(await status(local, request("10.0.0.7")), 401);
    const deployed = new TabIdentity({ senders: [], localMode: false, store });
    assert.equal(await status(deployed, request("127.0.0.1")), 401);
  });
});
