import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { GraphUserNotFoundError } from "../../src/graph/install-errors";
import type { PersonalChatInstaller } from "../../src/delivery/audience";
import { allDeliveries, reportWhen, storePersonalInstalls } from "../support/copies";
import { GatedOwnership } from "../support/gated-ownership";
import { startHerald, type HeraldFixture } from "../support/herald-fixture";

const TENANT = "tenant-install";
const INSTALLS_PER_SECOND = 50;

/** Records each Graph install; answers with a chat the emulator knows. */
class RecordingInstaller implements PersonalChatInstaller {
  readonly calls: Array<{ user: string; at: number }> = [];
  constructor(private readonly chatOf: (user: string) => string, private readonly unknown: Set<string>) {}
  async ensureInstalledForUser(user: string) {
    this.calls.push({ user, at: Date.now() });
    if (this.unknown.has(user)) throw new GraphUserNotFoundError(user);
    return { chatId: this.chatOf(user), status: "installed" };
  }
}

/**
 * Issue 11, item 8: with installIfMissing the API stores the job and answers; the Graph installs run in the job, on
 * the partition's owner, paced under Graph's own budget, each person reported.
 */
describe("installIfMissing: Graph installs run inside the job, after the 202", function () {
  this.timeout(60_000);
  let fx: HeraldFixture;
  let ownership: GatedOwnership;
  let installer: RecordingInstaller;
  const people = Array.from({ length: 200 }, () => randomUUID());
  const nobody = people[17]!;
  const chatOf = (user: string) => `19:${user}_herald@unq.gbl.spaces`;

  before(async () => {
    ownership = new GatedOwnership();
    installer = new RecordingInstaller(chatOf, new Set([nobody]));
    fx = await startHerald({
      env: { HERALD_GRAPH_INSTALL_RATE: String(INSTALLS_PER_SECOND), HERALD_TENANT_RATE: "1000" },
      tenant: { tenantId: TENANT, users: 1 },
      overrides: { ownership, installer },
    });
    for (const user of people) fx.emulator.registerConversation({ id: chatOf(user), tenantId: TENANT, kind: "personal" });
    // One installation in the tenant tells Herald which (regional) service URL serves it.
    await storePersonalInstalls(fx.store, fx.serviceUrl, fx.tenant.users);
  });
  after(() => fx.stop());

  it("a POST for 200 people answers before any Graph call; the owner then installs each (paced) and reports each person", async () => {
    const res = await fx.api("POST", "/api/notifications", {
      title: "Welcome aboard", text: "Herald was installed for you.", installIfMissing: true,
      audience: { kind: "users", tenantId: TENANT, users: [...people.map((aadObjectId) => ({ aadObjectId })), { userId: "29:only-a-teams-id" }] },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(installer.calls.length, 0, "no Graph call was made before the answer");
    assert.deepEqual({ total: res.body.counts.total, pending: res.body.counts.pending, skipped: res.body.counts.skipped }, { total: 201, pending: 200, skipped: 1 });
    const onlyTeamsId = (await allDeliveries(fx, res.body.id, "status=skipped"))[0];
    assert.match(onlyTeamsId.reason, /Teams user 29:only-a-teams-id.*needs the person's Entra object id or UPN/);

    // The partitions' owner (here: this instance, once it owns them) does the installs.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(installer.calls.length, 0, "an instance that owns no partition installs nothing");
    ownership.open();
    const report = await reportWhen(fx, res.body.id, (r) => r.status === "completed", "installs and sends", 45_000);
    assert.deepEqual({ sent: report.counts.sent, skipped: report.counts.skipped, failed: report.counts.failed }, { sent: 199, skipped: 2, failed: 0 });
    assert.equal(installer.calls.length, 200, "one install per person");
    assert.deepEqual(new Set(installer.calls.map((c) => c.user)), new Set(people));

    const times = installer.calls.map((c) => c.at).sort((a, b) => a - b);
    const busiest = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    assert.ok(busiest <= INSTALLS_PER_SECOND, `${busiest} installs started within one second (limit ${INSTALLS_PER_SECOND})`);

    const deliveries = await allDeliveries(fx, res.body.id);
    for (const user of people.filter((u) => u !== nobody)) {
      assert.equal(fx.emulator.delivered(chatOf(user)).length, 1, `${user} got it in the chat Graph created`);
    }
    const installed = deliveries.filter((d) => d.status === "sent");
    assert.ok(installed.every((d) => /installed for them through Microsoft Graph \(installed\)/.test(d.reason)), "each person's report says what happened");
    const ghost = deliveries.find((d) => d.recipientKey === `graph:${TENANT}:${nobody}`);
    assert.equal(ghost.status, "skipped");
    assert.match(ghost.reason, /unreachable: Graph install failed: user .* was not found/);
  });
});
