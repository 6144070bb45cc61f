/**
 * The contract of the tab's indexes, run against every backend beside the main store contract: the inbox
 * (InboxStore) and the member directory search (MemberStore.search). Like contract.ts, every test invents its own
 * tenant, so a shared, never-emptied backend (Azurite) works.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { InboxEntry } from "../../src/store/inbox";
import type { HeraldStore, MemberInput } from "../../src/store/types";

const SERVICE_URL = "https://smba.trafficmanager.net/emea/";

function entry(tenantId: string, personKey: string, jobId: string, sentAt: string, extra: Partial<InboxEntry> = {}): InboxEntry {
  return {
    tenantId, personKey, jobId, placeKey: "personal", place: { kind: "personal" },
    title: `Notification ${jobId}`, category: "general", triggeredBy: "CI pipeline", sentAt, ...extra,
  };
}

async function allPages(store: HeraldStore, tenantId: string, personKey: string, limit: number): Promise<InboxEntry[]> {
  const all: InboxEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.inbox.list(tenantId, personKey, limit, cursor);
    assert.ok(page.items.length <= limit);
    all.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return all;
}

export function describeInboxContract(name: string, open: () => Promise<HeraldStore>, cleanup?: (s: HeraldStore) => Promise<void>): void {
  describe(`inbox and directory search contract: ${name}`, function () {
    let store: HeraldStore;
    before(async function () {
      store = await open();
    });
    after(async function () {
      if (!store) return;
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    describe("inbox", function () {
      it("lists one person's entries newest first, ties by jobId then placeKey, with every field", async function () {
        const tenant = randomUUID();
        const person = randomUUID();
        const channel: InboxEntry = entry(tenant, person, "job-b", "2026-03-01T09:00:00.000Z", {
          placeKey: `_${tenant}_19:team@thread.tacv2`, category: "incidents", url: "https://status.example.com/42",
          place: { kind: "channel", name: "Operations", conversationId: "19:team@thread.tacv2", teamId: "19:team@thread.tacv2", channelId: "19:team@thread.tacv2" },
        });
        await store.inbox.record([
          entry(tenant, person, "job-old", "2026-01-01T09:00:00.000Z"),
          channel,
          entry(tenant, person, "job-b", "2026-03-01T09:00:00.000Z"),
          entry(tenant, person, "job-a", "2026-03-01T09:00:00.000Z"),
          entry(tenant, person, "job-new", "2026-04-01T09:00:00.000Z"),
        ]);
        const page = await store.inbox.list(tenant, person, 10);
        assert.equal(page.cursor, undefined);
        assert.deepEqual(page.items.map((e) => `${e.jobId}/${e.placeKey}`), [
          "job-new/personal", "job-a/personal", `job-b/_${tenant}_19:team@thread.tacv2`, "job-b/personal", "job-old/personal",
        ]);
        assert.deepEqual(page.items[2], channel);
      });

      it("keeps people and tenants apart", async function () {
        const tenant = randomUUID();
        const [alex, megan] = [randomUUID(), randomUUID()];
        await store.inbox.record([entry(tenant, alex, "j1", "2026-01-01T00:00:00.000Z"), entry(randomUUID(), alex, "j2", "2026-01-01T00:00:00.000Z")]);
        assert.deepEqual((await store.inbox.list(tenant, alex, 10)).items.map((e) => e.jobId), ["j1"]);
        assert.deepEqual((await store.inbox.list(tenant, megan, 10)).items, []);
        assert.deepEqual(await store.inbox.categories(tenant, megan), []);
      });

      it("recording an entry again replaces it instead of adding one", async function () {
        const tenant = randomUUID();
        const person = randomUUID();
        const first = entry(tenant, person, "job-1", "2026-02-02T10:00:00.000Z");
        await store.inbox.record([first, first]);
        await store.inbox.record([{ ...first, title: "Build 1043 failed (updated)" }]);
        const items = (await store.inbox.list(tenant, person, 10)).items;
        assert.equal(items.length, 1);
        assert.equal(items[0]!.title, "Build 1043 failed (updated)");
      });

      it("pages 1,050 entries written in one call (several partitions and transactions) without repeats", async function () {
        this.timeout(60_000);
        const tenant = randomUUID();
        const person = randomUUID();
        const base = Date.parse("2026-05-01T00:00:00.000Z");
        const entries = Array.from({ length: 1050 }, (_, i) => entry(tenant, person, `job-${String(i).padStart(4, "0")}`, new Date(base + Math.floor(i / 3) * 1000).toISOString()));
        // Other people in the same call, so one write spans partitions.
        const others = Array.from({ length: 40 }, () => entry(tenant, randomUUID(), "job-x", new Date(base).toISOString()));
        await store.inbox.record([...entries, ...others]);
        const listed = await allPages(store, tenant, person, 400);
        assert.equal(listed.length, 1050);
        const expected = [...entries].sort((a, b) => (a.sentAt !== b.sentAt ? (a.sentAt < b.sentAt ? 1 : -1) : a.jobId < b.jobId ? -1 : 1));
        assert.deepEqual(listed.map((e) => e.jobId), expected.map((e) => e.jobId));
      });

      it("remembers the categories a person was sent", async function () {
        const tenant = randomUUID();
        const person = randomUUID();
        await store.inbox.record([
          entry(tenant, person, "j1", "2026-01-01T00:00:00.000Z", { category: "weekly-digest" }),
          entry(tenant, person, "j2", "2026-01-02T00:00:00.000Z", { category: "incidents" }),
          entry(tenant, person, "j3", "2026-01-03T00:00:00.000Z", { category: "incidents" }),
        ]);
        assert.deepEqual(await store.inbox.categories(tenant, person), ["incidents", "weekly-digest"]);
      });
    });

    it("erasure removes one person's entries and categories, and nobody else's", async function () {
      const tenant = randomUUID();
      const [grace, alan] = [randomUUID(), randomUUID()];
      await store.inbox.record([
        entry(tenant, grace, "j1", "2026-01-01T00:00:00.000Z", { category: "builds" }),
        entry(tenant, grace, "j2", "2026-01-02T00:00:00.000Z"),
        entry(tenant, alan, "j1", "2026-01-01T00:00:00.000Z", { category: "builds" }),
      ]);
      assert.equal(await store.inbox.removePerson(tenant, grace), 2);
      assert.deepEqual((await store.inbox.list(tenant, grace, 10)).items, []);
      assert.deepEqual(await store.inbox.categories(tenant, grace), []);
      assert.equal((await store.inbox.list(tenant, alan, 10)).items.length, 1);
      assert.deepEqual(await store.inbox.categories(tenant, alan), ["builds"]);
      assert.equal(await store.inbox.removePerson(tenant, grace), 0, "again: nothing left");
      // A later notification records the category again (a process must not remember it as written).
      await store.inbox.record([entry(tenant, grace, "j3", "2026-01-03T00:00:00.000Z", { category: "builds" })]);
      assert.deepEqual(await store.inbox.categories(tenant, grace), ["builds"]);
    });

    describe("member directory search", function () {
      const people = (tenantId: string): MemberInput[] => [
        { tenantId, userId: "29:1alex", name: "Alex Wilber", upn: "AlexW@contoso.com", serviceUrl: SERVICE_URL, aadObjectId: randomUUID() },
        { tenantId, userId: "29:1megan", name: "Megan Bowen", upn: "meganb@contoso.com", serviceUrl: SERVICE_URL },
        { tenantId, userId: "29:1adele", name: "Adele Vance", email: "adele.vance@contoso.com", serviceUrl: SERVICE_URL },
        { tenantId, userId: "29:1zoe", name: "Zoë Żurawska", serviceUrl: SERVICE_URL },
        { tenantId, userId: "29:1alexandra", name: "Alexandra Alvarez", serviceUrl: SERVICE_URL },
      ];

      it("finds people by the start of any word of their name, UPN or e-mail, ignoring case and accents", async function () {
        const tenant = randomUUID();
        await store.members.upsertMembers(`_${tenant}_19:team@thread.tacv2`, people(tenant));
        const ids = async (text: string) => (await store.members.search(tenant, text, 10)).map((m) => m.userId);
        assert.deepEqual(await ids("alex"), ["29:1alex", "29:1alexandra"], "by name, ordered by name");
        assert.deepEqual(await ids("wil"), ["29:1alex"], "surname");
        assert.deepEqual(await ids("MEGANB"), ["29:1megan"], "UPN before the @");
        assert.deepEqual(await ids("vance"), ["29:1adele"]);
        assert.deepEqual(await ids("adele.va"), ["29:1adele"], "every word must match");
        assert.deepEqual(await ids("zoe zura"), ["29:1zoe"], "accents ignored");
        assert.deepEqual(await ids("alex alv"), ["29:1alexandra"]);
        assert.deepEqual(await ids("contoso"), [], "the address's domain is not searchable: it matches everyone");
        assert.deepEqual(await ids("a"), [], "one character is too short");
        const alex = (await store.members.search(tenant, "alex w", 10))[0]!;
        assert.equal(alex.upn, "alexw@contoso.com");
        assert.ok(alex.aadObjectId);
      });

      it("stays within the tenant and honours the limit", async function () {
        const [tenant, other] = [randomUUID(), randomUUID()];
        await store.members.upsertMembers(`_${tenant}_19:a@thread.v2`, people(tenant));
        await store.members.upsertMembers(`_${other}_19:b@thread.v2`, people(other));
        const found = await store.members.search(tenant, "al", 1);
        assert.equal(found.length, 1);
        assert.equal(found[0]!.tenantId, tenant);
      });

      it("erasure of a person takes them out of the search", async function () {
        const tenant = randomUUID();
        await store.members.upsertMembers(`_${tenant}_19:a@thread.v2`, people(tenant));
        await store.members.removeMembership(`_${tenant}_19:a@thread.v2`, ["29:1adele"]);
        assert.equal(await store.members.removePerson(tenant, "29:1adele"), true);
        assert.deepEqual((await store.members.search(tenant, "adele", 10)).map((m) => m.userId), []);
        assert.deepEqual((await store.members.search(tenant, "alex", 10)).map((m) => m.userId), ["29:1alex", "29:1alexandra"]);
      });

      it("follows a rename: the old name no longer finds the person", async function () {
        const tenant = randomUUID();
        await store.members.upsertMembers(`_${tenant}_19:a@thread.v2`, people(tenant));
        await store.members.upsertMembers(`_${tenant}_19:a@thread.v2`, [{ tenantId: tenant, userId: "29:1megan", name: "Megan Smith", serviceUrl: SERVICE_URL }]);
        assert.deepEqual((await store.members.search(tenant, "bowen", 10)).map((m) => m.userId), []);
        assert.deepEqual((await store.members.search(tenant, "smith", 10)).map((m) => m.userId), ["29:1megan"]);
        assert.deepEqual((await store.members.search(tenant, "meganb", 10)).map((m) => m.userId), ["29:1megan"], "the kept UPN still finds her");
      });
    });
  });
}
