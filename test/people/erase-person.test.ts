import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { recipientOfTarget } from "../../src/delivery/audience";
import { silentLogger } from "../../src/logger";
import { erasePerson, parsePersonId } from "../../src/people/erase-person";
import { openAzureTableStore } from "../../src/store/azure-table";
import { MemoryStore } from "../../src/store/memory";
import { SqliteStore } from "../../src/store/sqlite";
import { targetKey, type Delivery, type HeraldStore, type Job } from "../../src/store/types";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { targetInput } from "../store/contract";

const SERVICE_URL = "https://smba.trafficmanager.net/emea/";

/** One person with a footprint everywhere Herald keeps data, a colleague who must be untouched, four notifications. */
async function seed(store: HeraldStore) {
  const tenant = randomUUID();
  const person = {
    userId: `29:1${randomUUID()}`, aadObjectId: randomUUID(), upn: `grace.${randomUUID().slice(0, 6)}@contoso.com`,
    name: "Grace Hopper", email: "grace.hopper@contoso.com", personalConversationId: `a:1grace-${randomUUID()}`,
  };
  const colleague = { userId: `29:1${randomUUID()}`, aadObjectId: randomUUID(), name: "Alan Turing", personalConversationId: `a:1alan-${randomUUID()}` };

  const personal = (p: typeof colleague) => targetInput(tenant, p.personalConversationId, "personal", { userId: p.userId, aadObjectId: p.aadObjectId, name: p.name, timeZone: "Europe/London" });
  const team = targetInput(tenant, `19:${randomUUID()}@thread.tacv2`, "channel", { teamId: "team", teamName: "Operations", installedBy: "Alan Turing" });
  const chat = targetInput(tenant, `19:${randomUUID()}@thread.v2`, "groupChat");
  const targets = { person: (await store.targets.upsert(personal(person))).target, colleague: (await store.targets.upsert(personal(colleague))).target,
    team: (await store.targets.upsert(team)).target, chat: (await store.targets.upsert(chat)).target };

  const member = (p: typeof person | typeof colleague) => ({ tenantId: tenant, serviceUrl: SERVICE_URL, ...p });
  await store.members.upsertMembers(targets.team.key, [member(person), member(colleague)]);
  await store.members.upsertMembers(targets.chat.key, [member(person)]);
  await store.members.upsertMembers(targets.person.key, [member(person)]);
  await store.members.upsertMembers(targets.colleague.key, [member(colleague)]);

  // Their "My notifications" and a colleague's.
  const inboxEntry = (personKey: string, jobId: string) => ({
    tenantId: tenant, personKey, jobId, placeKey: "personal", place: { kind: "personal" as const }, title: "t", category: "builds", triggeredBy: "api", sentAt: new Date().toISOString(),
  });
  await store.inbox.record([inboxEntry(person.aadObjectId, "j1"), inboxEntry(person.aadObjectId, "j2"), inboxEntry(colleague.aadObjectId, "j1")]);

  await store.preferences.optOut(tenant, person.aadObjectId, "*");
  await store.preferences.optOut(tenant, person.userId, "builds");
  await store.preferences.optOut(tenant, colleague.aadObjectId, "weekly-digest");

  const userDelivery = (p: typeof colleague) => ({
    recipientKey: `user:${tenant}:${p.userId}`,
    recipient: { tenantId: tenant, serviceUrl: SERVICE_URL, userId: p.userId, aadObjectId: p.aadObjectId, conversationId: p.personalConversationId, name: p.name },
  });
  const job = (audience: Record<string, unknown>) => ({ id: randomUUID(), status: "running" as const, content: { title: "t", text: "x" }, audience, triggeredBy: "api", createdAt: new Date().toISOString() });
  const all = job({ kind: "all" });
  await store.jobs.createJob(all, [targets.person, targets.colleague, targets.team].map((t) => ({ recipientKey: t.key, recipient: recipientOfTarget(t) })));
  for (const t of [targets.person, targets.colleague, targets.team]) await store.jobs.updateDelivery(all.id, t.key, { status: "sent", activityId: "1", attemptsIncrement: 1 });
  await store.jobs.updateDelivery(all.id, targets.person.key, { acknowledgedAt: "2026-03-10T13:02:00.000Z", acknowledgedBy: person.name });
  const members = job({ kind: "teamMembers", teamId: "team" });
  await store.jobs.createJob(members, [userDelivery(person), userDelivery(colleague)]); // both still pending
  const named = job({ kind: "users", users: [{ upn: person.upn }] });
  await store.jobs.createJob(named, [{ ...userDelivery(person), status: "skipped", reason: `opted out (${person.name})` }]);
  const thread = job({ kind: "channelThread", teamId: "team" });
  await store.jobs.createJob(thread, [{ recipientKey: `thread:${tenant}:team`, recipient: { ...recipientOfTarget(targets.team), conversationId: undefined, newThreadInChannel: "team" } }]);
  return { tenant, person, colleague, targets, jobs: { all, members, named, thread } };
}

async function deliveries(store: HeraldStore, job: Pick<Job, "id">): Promise<Delivery[]> {
  return (await store.jobs.listDeliveries(job.id, 100)).items;
}

function describeErasure(name: string, open: () => Promise<HeraldStore>, close: (s: HeraldStore) => Promise<void> = (s) => s.close()) {
  describe(`erasing a person: ${name}`, function () {
    this.timeout(60_000);
    let store: HeraldStore;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await close(store);
    });

    it("removes their installation, directory rows, preferences and the personal data in past deliveries; counts stay", async () => {
      const s = await seed(store);
      const countsBefore = await Promise.all(Object.values(s.jobs).map((j) => store.jobs.counts(j.id)));

      const report = await erasePerson(store, { ref: { upn: s.person.upn.toUpperCase() } });
      assert.deepEqual(report, {
        peopleRemoved: 1, targetsRemoved: 1, preferencesRemoved: 2, inboxEntriesRemoved: 2, deliveriesScrubbed: 3, deliveriesCancelled: 1,
        notificationsExamined: report.notificationsExamined, notificationsNamingPerson: [s.jobs.named.id],
      });
      assert.ok(report.notificationsExamined >= 4);

      // installation and directory
      assert.equal(await store.targets.get(s.targets.person.key), undefined);
      for (const t of [s.targets.colleague, s.targets.team, s.targets.chat]) assert.ok(await store.targets.get(t.key), t.kind);
      assert.equal(await store.members.find({ aadObjectId: s.person.aadObjectId }), undefined);
      assert.equal(await store.members.find({ upn: s.person.upn }), undefined);
      assert.equal(await store.members.find({ userId: s.person.userId }, s.tenant), undefined);
      assert.deepEqual((await store.members.listBySource(s.targets.team.key, 10)).items.map((m) => m.userId), [s.colleague.userId]);
      assert.equal(await store.members.countBySource(s.targets.chat.key), 0);
      assert.equal((await store.members.find({ aadObjectId: s.colleague.aadObjectId }))?.name, "Alan Turing");

      // the tab's inbox and the directory search: theirs gone, the colleague's kept
      assert.deepEqual((await store.inbox.list(s.tenant, s.person.aadObjectId, 10)).items, []);
      assert.equal((await store.inbox.list(s.tenant, s.colleague.aadObjectId, 10)).items.length, 1);
      assert.deepEqual(await store.members.search(s.tenant, "grace", 10), []);
      assert.equal((await store.members.search(s.tenant, "alan", 10))[0]?.userId, s.colleague.userId);

      // preferences: theirs gone (under both keys), the colleague's kept
      assert.deepEqual(await store.preferences.list(s.tenant, s.person.aadObjectId), []);
      assert.deepEqual(await store.preferences.list(s.tenant, s.person.userId), []);
      assert.equal(await store.preferences.isOptedOut(s.tenant, [s.colleague.aadObjectId], "weekly-digest"), true);

      // past deliveries: rows and counts stay; their recipient holds only tenant and service URL
      const mine = (ds: Delivery[]) => ds.find((d) => d.recipientKey === s.targets.person.key || d.recipientKey === `user:${s.tenant}:${s.person.userId}`)!;
      const all = await deliveries(store, s.jobs.all);
      assert.deepEqual(mine(all).recipient, { tenantId: s.tenant, serviceUrl: SERVICE_URL });
      assert.equal(mine(all).status, "sent");
      assert.equal(mine(all).activityId, "1");
      const team = await deliveries(store, s.jobs.members);
      assert.equal(mine(team).status, "cancelled", "a pending delivery to an erased person is not sent");
      assert.equal(mine(team).reason, "the recipient's data was erased");
      const named = await deliveries(store, s.jobs.named);
      assert.equal(named[0]!.reason, "(erased)", "a reason that named them is blanked");
      const countsAfter = await Promise.all(Object.values(s.jobs).map((j) => store.jobs.counts(j.id)));
      assert.deepEqual(countsAfter.map((c) => c.total), countsBefore.map((c) => c.total));
      assert.deepEqual(countsAfter[0], countsBefore[0]);
      assert.deepEqual(countsAfter[1], { ...countsBefore[1]!, pending: countsBefore[1]!.pending - 1, cancelled: countsBefore[1]!.cancelled + 1 });
      assert.equal(mine(all).acknowledgedAt, "2026-03-10T13:02:00.000Z", "that they acknowledged stays, not who they are");
      assert.equal((await store.jobs.copyCounts(s.jobs.all.id)).acknowledged, 1);

      // Nothing readable through the store still carries their ids, name or address — except the delivery
      // rows' keys, which are the exactly-once ledger's identity and stay (see the README).
      const everything = JSON.stringify({
        targets: (await store.targets.list({ tenantId: s.tenant }, 100)).items,
        team: (await store.members.listBySource(s.targets.team.key, 100)).items,
        prefs: [await store.preferences.list(s.tenant, s.person.aadObjectId), await store.preferences.list(s.tenant, s.person.userId)],
        deliveries: (await Promise.all(Object.values(s.jobs).map((j) => deliveries(store, j)))).flat().map(({ recipientKey: _key, ...rest }) => rest),
      });
      for (const value of [s.person.userId, s.person.aadObjectId, s.person.upn, s.person.name, s.person.email, s.person.personalConversationId]) {
        assert.ok(!everything.includes(value), `${value} is still stored`);
      }
      // the colleague's data is all still there
      assert.ok(everything.includes(s.colleague.userId) && everything.includes("Alan Turing"));
      const colleagueDelivery = team.find((d) => d.recipientKey === `user:${s.tenant}:${s.colleague.userId}`)!;
      assert.equal(colleagueDelivery.status, "pending");
      assert.equal(colleagueDelivery.recipient.userId, s.colleague.userId);
    });

    it("a second erasure finds nothing; an unknown person is nothing to erase", async () => {
      const s = await seed(store);
      await erasePerson(store, { ref: { aadObjectId: s.person.aadObjectId } });
      const again = await erasePerson(store, { ref: { aadObjectId: s.person.aadObjectId } });
      assert.equal(again.peopleRemoved + again.targetsRemoved + again.preferencesRemoved + again.deliveriesScrubbed, 0);
      const nobody = await erasePerson(store, { ref: { upn: `nobody-${randomUUID()}@contoso.com` } });
      assert.equal(nobody.peopleRemoved + nobody.deliveriesScrubbed, 0);
    });

    it("with a tenant, erases preferences and deliveries of someone the directory no longer knows", async () => {
      const s = await seed(store);
      await store.members.removeMembership(s.targets.team.key, [s.person.userId]);
      await store.members.removeMembership(s.targets.chat.key, [s.person.userId]);
      await store.members.removeMembership(s.targets.person.key, [s.person.userId]);
      await store.members.removePerson(s.tenant, s.person.userId);
      const report = await erasePerson(store, { ref: { userId: s.person.userId }, tenantId: s.tenant });
      assert.equal(report.preferencesRemoved, 1, "the opt-out kept under the Teams user id");
      assert.equal(report.deliveriesScrubbed, 2, "user: deliveries of the team-members and chosen-people notifications");
    });
  });
}

describeErasure("memory", async () => new MemoryStore());

describeErasure("sqlite", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-erase-"));
  const store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
  (store as unknown as { dir: string }).dir = dir;
  return store;
}, async (s) => {
  await s.close();
  rmSync((s as unknown as { dir: string }).dir, { recursive: true, force: true });
});

describe("erasing a person: azure-table (Azurite)", function () {
  let azurite: AzuriteTable;
  before(async function () {
    this.timeout(60_000);
    azurite = await startAzurite();
  });
  after(async () => {
    await azurite?.stop();
  });
  describeErasure("azure-table", () => openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: `e${randomUUID().replace(/-/g, "").slice(0, 12)}` }, silentLogger()));
});

describe("naming a person for erasure", () => {
  it("accepts an object id, a UPN or a Teams user id, and nothing else", () => {
    assert.deepEqual(parsePersonId("0d84ada2-3bde-4a8c-a3bc-8f98da2aaf15"), { aadObjectId: "0d84ada2-3bde-4a8c-a3bc-8f98da2aaf15" });
    assert.deepEqual(parsePersonId(" Grace@Contoso.com "), { upn: "grace@contoso.com" });
    assert.deepEqual(parsePersonId("29:1abc"), { userId: "29:1abc" });
    for (const bad of ["", "grace", "a b@c", "DROP TABLE members"]) assert.equal(parsePersonId(bad), undefined, bad);
  });
});

describe("npm run herald -- forget (SQLite on disk)", function () {
  this.timeout(60_000);
  it("erases a person from the store the bot uses, and says when there was nothing to erase", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-forget-"));
    try {
      const file = path.join(dir, "herald.db");
      const store = new SqliteStore(file, silentLogger());
      const s = await seed(store);
      await store.close();
      const run = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, "..", "..", "src", "cli", "herald.ts"), ...args], {
        cwd: path.join(__dirname, "..", ".."), env: { ...process.env, HERALD_STORE: `sqlite:${file}`, BOT_ID: "", HERALD_API_KEY: "" }, encoding: "utf8", timeout: 30_000,
      });
      const first = run(["forget", "--user", s.person.aadObjectId]);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, /erased .*: 1 directory entries, 1 personal installations, 2 preferences, 3 past deliveries \(1 pending ones cancelled\)/);
      assert.match(first.stdout, /1 notification request\(s\) named them/);
      const second = run(["forget", "--user", s.person.aadObjectId]);
      assert.equal(second.status, 3);
      assert.match(second.stdout, /holds nothing about/);
      const bad = run(["forget", "--user", "not-a-person"]);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /--user must be an Entra object id/);

      const reopened = new SqliteStore(file, silentLogger());
      assert.equal(await reopened.members.find({ aadObjectId: s.person.aadObjectId }), undefined);
      assert.equal(await reopened.targets.get(s.targets.person.key), undefined);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
