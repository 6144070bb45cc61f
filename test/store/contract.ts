/**
 * The storage contract: every HeraldStore backend (memory, SQLite, Azure Table Storage) must pass this suite.
 *
 *   describeStoreContract("sqlite", async () => new SqliteStore(path, logger), async (s) => { await s.close(); rm(path) });
 *
 * One store is opened for the whole block (`open` in `before`); at the end `cleanup(store)` runs when given,
 * otherwise `store.close()`. Every test invents fresh tenant / job / schedule ids and only looks at what it
 * wrote, so the suite also runs against a shared, never-emptied backend (Azurite, a real account).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  targetKey,
  type DeliveryInput,
  type DeliveryStatus,
  type HeraldStore,
  type Job,
  type MemberInput,
  type NewJob,
  type Target,
  type TargetInput,
  type TargetKind,
} from "../../src/store/types";

const SERVICE_URL = "https://smba.trafficmanager.net/emea/";
const DELIVERY_STATUSES: DeliveryStatus[] = ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"];

export function describeStoreContract(
  name: string,
  open: () => Promise<HeraldStore>,
  cleanup?: (s: HeraldStore) => Promise<void>,
): void {
  describe(`HeraldStore contract: ${name}`, function () {
    let store: HeraldStore;

    before(async function () {
      store = await open();
    });

    after(async function () {
      if (!store) return;
      if (cleanup) await cleanup(store);
      else await store.close();
    });

    it("names its kind and answers ping", async function () {
      assert.ok(["memory", "sqlite", "azure-table"].includes(store.kind));
      await store.ping();
    });

    describe("targets", function () {
      it("upsert creates a target with status active and installedAt = updatedAt = at", async function () {
        const tenant = randomUUID();
        const input = targetInput(tenant, "a:1personal", "personal", {
          userId: "29:1abc",
          aadObjectId: randomUUID(),
          name: "Ada Lovelace",
          upn: "ada@contoso.com",
          locale: "en-GB",
          timeZone: "Europe/London",
          installedBy: "Ada Lovelace",
          at: "2026-01-02T03:04:05.000Z",
        });
        const { target, created } = await store.targets.upsert(input);
        assert.equal(created, true);
        const { at: _at, ...fields } = input;
        const expected: Target = {
          ...fields,
          installedAt: "2026-01-02T03:04:05.000Z",
          updatedAt: "2026-01-02T03:04:05.000Z",
          status: "active",
        };
        assert.deepEqual(stripUndefined(target), expected);
        assert.deepEqual(stripUndefined(await store.targets.get(input.key)), expected);
      });

      it("upsert without `at` stamps the current time", async function () {
        const before = Date.now();
        const { target } = await store.targets.upsert(targetInput(randomUUID(), "19:now@thread.v2", "groupChat"));
        const after = Date.now();
        const stamped = Date.parse(target.installedAt);
        assert.ok(stamped >= before - 1000 && stamped <= after + 1000, `installedAt ${target.installedAt}`);
        assert.equal(target.updatedAt, target.installedAt);
      });

      it("upsert merges: absent fields keep stored values, present ones replace, installedAt is kept", async function () {
        const tenant = randomUUID();
        const first = targetInput(tenant, "19:merge@thread.tacv2", "channel", {
          teamId: "19:merge@thread.tacv2",
          teamName: "Ops",
          channelId: "19:merge@thread.tacv2",
          name: "General",
          locale: "de-DE",
          at: "2026-01-01T00:00:00.000Z",
        });
        await store.targets.upsert(first);
        const second: TargetInput = {
          key: first.key,
          kind: "channel",
          tenantId: tenant,
          conversationId: first.conversationId,
          serviceUrl: "https://smba.trafficmanager.net/amer/",
          reference: { ...first.reference, serviceUrl: "https://smba.trafficmanager.net/amer/" },
          teamName: "Operations",
          timeZone: "Europe/Berlin",
          at: "2026-02-01T00:00:00.000Z",
        };
        const { target, created } = await store.targets.upsert(second);
        assert.equal(created, false);
        assert.equal(target.installedAt, "2026-01-01T00:00:00.000Z");
        assert.equal(target.updatedAt, "2026-02-01T00:00:00.000Z");
        assert.equal(target.serviceUrl, "https://smba.trafficmanager.net/amer/");
        assert.equal(target.reference.serviceUrl, "https://smba.trafficmanager.net/amer/");
        assert.equal(target.teamName, "Operations");
        assert.equal(target.timeZone, "Europe/Berlin");
        // absent in the second upsert: kept
        assert.equal(target.teamId, "19:merge@thread.tacv2");
        assert.equal(target.name, "General");
        assert.equal(target.locale, "de-DE");
        assert.equal(target.channelId, "19:merge@thread.tacv2");
        assert.deepEqual(stripUndefined(await store.targets.get(first.key)), stripUndefined(target));
      });

      it("upsert brings a gone target back to active and clears goneReason/goneAt", async function () {
        const input = targetInput(randomUUID(), "a:1gone", "personal", { at: "2026-01-01T00:00:00.000Z" });
        await store.targets.upsert(input);
        assert.equal(await store.targets.markGone(input.key, "ConversationBlockedByUser", "2026-01-05T00:00:00.000Z"), true);
        const gone = await store.targets.get(input.key);
        assert.equal(gone?.status, "gone");
        assert.equal(gone?.goneReason, "ConversationBlockedByUser");
        assert.equal(gone?.goneAt, "2026-01-05T00:00:00.000Z");
        assert.equal(gone?.installedAt, "2026-01-01T00:00:00.000Z");

        const { target, created } = await store.targets.upsert({ ...input, at: "2026-01-09T00:00:00.000Z" });
        assert.equal(created, false);
        assert.equal(target.status, "active");
        assert.equal(target.goneReason, undefined);
        assert.equal(target.goneAt, undefined);
        assert.equal(target.installedAt, "2026-01-01T00:00:00.000Z");
        const stored = await store.targets.get(input.key);
        assert.equal(stored?.status, "active");
        assert.equal(stored?.goneReason, undefined);
      });

      it("upsert ignores store-owned fields passed along with the input (a spread Target)", async function () {
        const input = targetInput(randomUUID(), "a:1spread", "personal", { at: "2026-01-01T00:00:00.000Z" });
        await store.targets.upsert(input);
        await store.targets.markGone(input.key, "uninstalled", "2026-01-02T00:00:00.000Z");
        const gone = (await store.targets.get(input.key))!;
        const { target } = await store.targets.upsert({ ...gone, installedAt: "1999-01-01T00:00:00.000Z", name: "back", at: "2026-01-03T00:00:00.000Z" } as TargetInput);
        assert.equal(target.status, "active");
        assert.equal(target.goneReason, undefined);
        assert.equal(target.installedAt, "2026-01-01T00:00:00.000Z");
        assert.equal(target.updatedAt, "2026-01-03T00:00:00.000Z");
        assert.equal(target.name, "back");
        assert.deepEqual(stripUndefined(await store.targets.get(input.key)), stripUndefined(target));
      });

      it("markGone without `at` stamps now; markGone of an unknown key is a no-op returning false", async function () {
        const input = targetInput(randomUUID(), "a:1gonenow", "personal");
        await store.targets.upsert(input);
        const before = Date.now();
        assert.equal(await store.targets.markGone(input.key, "uninstalled"), true);
        const gone = await store.targets.get(input.key);
        assert.ok(gone?.goneAt && Date.parse(gone.goneAt) >= before - 1000);
        const unknown = targetKey(randomUUID(), "a:1nobody");
        assert.equal(await store.targets.markGone(unknown, "uninstalled"), false);
        assert.equal(await store.targets.get(unknown), undefined);
      });

      it("insertIfAbsent inserts once and never overwrites", async function () {
        const input = targetInput(randomUUID(), "a:1once", "personal", { name: "first" });
        assert.equal(await store.targets.insertIfAbsent(input), true);
        assert.equal(await store.targets.insertIfAbsent({ ...input, name: "second" }), false);
        const stored = await store.targets.get(input.key);
        assert.equal(stored?.name, "first");
        assert.equal(stored?.status, "active");
      });

      it("insertIfAbsent: 50 racing calls insert exactly once", async function () {
        const base = targetInput(randomUUID(), "19:race@thread.v2", "groupChat");
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.targets.insertIfAbsent({ ...base, name: `racer ${i}` })),
        );
        assert.equal(results.filter(Boolean).length, 1);
        const winner = results.indexOf(true);
        assert.equal((await store.targets.get(base.key))?.name, `racer ${winner}`);
        assert.equal(await store.targets.count({ tenantId: base.tenantId }), 1);
      });

      it("get of an unknown key is undefined; remove deletes once", async function () {
        assert.equal(await store.targets.get(targetKey(randomUUID(), "a:1none")), undefined);
        const input = targetInput(randomUUID(), "a:1remove", "personal");
        await store.targets.upsert(input);
        assert.equal(await store.targets.remove(input.key), true);
        assert.equal(await store.targets.get(input.key), undefined);
        assert.equal(await store.targets.remove(input.key), false);
        assert.equal(await store.targets.count({ tenantId: input.tenantId }), 0);
      });

      it("returns copies: mutating a returned target does not change the stored one", async function () {
        const input = targetInput(randomUUID(), "a:1copy", "personal", { name: "original" });
        const { target } = await store.targets.upsert(input);
        target.name = "mutated";
        (target.reference.conversation as { id: string }).id = "mutated";
        const page = await store.targets.list({ tenantId: input.tenantId }, 10);
        page.items[0]!.name = "mutated too";
        const stored = await store.targets.get(input.key);
        assert.equal(stored?.name, "original");
        assert.equal(stored?.reference.conversation?.id, "a:1copy");
      });

      it("list pages 2,345 targets in pages of 500: every key exactly once, ascending key order, stable", async function () {
        this.timeout(120_000);
        const tenant = randomUUID();
        const inputs = Array.from({ length: 2345 }, (_, i) =>
          targetInput(tenant, `a:1${(i * 7919 % 2345).toString(36).padStart(4, "0")}-${i}`, "personal"),
        );
        for (let i = 0; i < inputs.length; i += 100) {
          await Promise.all(inputs.slice(i, i + 100).map((t) => store.targets.upsert(t)));
        }
        const pass = async (): Promise<{ keys: string[]; sizes: number[] }> => {
          const keys: string[] = [];
          const sizes: number[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.targets.list({ tenantId: tenant }, 500, cursor);
            sizes.push(page.items.length);
            for (const t of page.items) {
              assert.equal(t.tenantId, tenant);
              keys.push(t.key);
            }
            cursor = page.cursor;
            assert.ok(sizes.length <= 10, "paging does not terminate");
          } while (cursor);
          return { keys, sizes };
        };
        const first = await pass();
        assert.equal(first.keys.length, 2345);
        assert.equal(new Set(first.keys).size, 2345);
        assert.deepEqual(new Set(first.keys), new Set(inputs.map((t) => t.key)));
        assert.deepEqual(first.keys, [...first.keys].sort(compareStrings), "ordered by key");
        assert.deepEqual(first.sizes.filter((n) => n > 0), [500, 500, 500, 500, 345]);
        const second = await pass();
        assert.deepEqual(second.keys, first.keys);
        assert.equal(await store.targets.count({ tenantId: tenant }), 2345);
      });

      it("list: a page that ends exactly at the last item does not lead to a non-empty next page", async function () {
        const tenant = randomUUID();
        for (const id of ["a:1x", "a:1y", "a:1z"]) await store.targets.upsert(targetInput(tenant, id, "personal"));
        const page = await store.targets.list({ tenantId: tenant }, 3);
        assert.equal(page.items.length, 3);
        if (page.cursor) {
          const next = await store.targets.list({ tenantId: tenant }, 3, page.cursor);
          assert.equal(next.items.length, 0);
          assert.equal(next.cursor, undefined);
        }
        const small = await store.targets.list({ tenantId: tenant }, 2);
        assert.equal(small.items.length, 2);
        assert.ok(small.cursor, "a cursor when more items follow");
        const rest = await store.targets.list({ tenantId: tenant }, 2, small.cursor);
        assert.deepEqual(rest.items.map((t) => t.conversationId), ["a:1z"]);
      });

      it("list and count filter by kind, status and teamId (alone and combined)", async function () {
        const tenant = randomUUID();
        const teamA = `19:${randomUUID()}@thread.tacv2`;
        const teamB = `19:${randomUUID()}@thread.tacv2`;
        const all: TargetInput[] = [
          ...Array.from({ length: 4 }, (_, i) => targetInput(tenant, `a:1p${i}`, "personal")),
          ...Array.from({ length: 3 }, (_, i) => targetInput(tenant, `19:g${i}@thread.v2`, "groupChat")),
          targetInput(tenant, teamA, "channel", { teamId: teamA, channelId: teamA }),
          targetInput(tenant, `19:a1@thread.tacv2`, "channel", { teamId: teamA, channelId: "19:a1@thread.tacv2" }),
          targetInput(tenant, teamB, "channel", { teamId: teamB, channelId: teamB }),
        ];
        await Promise.all(all.map((t) => store.targets.upsert(t)));
        await store.targets.markGone(targetKey(tenant, "a:1p0"), "ConversationNotFound");
        await store.targets.markGone(targetKey(tenant, "19:g2@thread.v2"), "BotNotInConversationRoster");
        await store.targets.markGone(targetKey(tenant, teamB), "teamDeleted");

        const listAll = async (q: Parameters<HeraldStore["targets"]["list"]>[0]) => {
          const out: Target[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.targets.list(q, 2, cursor);
            out.push(...page.items);
            cursor = page.cursor;
          } while (cursor);
          return out;
        };
        const cases: Array<[Parameters<HeraldStore["targets"]["list"]>[0], string[]]> = [
          [{ tenantId: tenant }, all.map((t) => t.conversationId)],
          [{ tenantId: tenant, kind: "personal" }, ["a:1p0", "a:1p1", "a:1p2", "a:1p3"]],
          [{ tenantId: tenant, kind: "personal", status: "active" }, ["a:1p1", "a:1p2", "a:1p3"]],
          [{ tenantId: tenant, status: "gone" }, ["a:1p0", "19:g2@thread.v2", teamB]],
          [{ tenantId: tenant, kind: "groupChat", status: "active" }, ["19:g0@thread.v2", "19:g1@thread.v2"]],
          [{ tenantId: tenant, kind: "channel" }, [teamA, "19:a1@thread.tacv2", teamB]],
          [{ teamId: teamA }, [teamA, "19:a1@thread.tacv2"]],
          [{ teamId: teamA, status: "active", kind: "channel" }, [teamA, "19:a1@thread.tacv2"]],
          [{ teamId: teamB, status: "active" }, []],
          [{ teamId: teamB }, [teamB]],
        ];
        for (const [query, expected] of cases) {
          const got = await listAll(query);
          const label = JSON.stringify(query);
          assert.deepEqual(got.map((t) => t.conversationId).sort(), [...expected].sort(), label);
          for (const t of got) {
            if (query.kind) assert.equal(t.kind, query.kind, label);
            if (query.status) assert.equal(t.status, query.status, label);
          }
          assert.equal(await store.targets.count(query), expected.length, `count ${label}`);
        }
      });
    });

    describe("members", function () {
      it("upserts members and finds them by aadObjectId, upn (any case) and userId, with and without tenant", async function () {
        const tenant = randomUUID();
        const otherTenant = randomUUID();
        const source = targetKey(tenant, `19:${randomUUID()}@thread.tacv2`);
        const aad = randomUUID();
        const userId = `29:1${randomUUID()}`;
        const upn = `Grace.Hopper.${randomUUID().slice(0, 8)}@Contoso.com`;
        await store.members.upsertMembers(source, [
          memberInput(tenant, userId, { aadObjectId: aad, upn, email: "grace@contoso.com", name: "Grace Hopper", timeZone: "America/New_York" }),
          memberInput(tenant, `29:1${randomUUID()}`, { aadObjectId: randomUUID(), name: "Someone Else" }),
        ]);
        const expectMatch = (m: Awaited<ReturnType<HeraldStore["members"]["find"]>>, label: string) => {
          assert.ok(m, label);
          assert.equal(m.userId, userId, label);
          assert.equal(m.tenantId, tenant, label);
          assert.equal(m.aadObjectId, aad, label);
          assert.equal(m.upn, upn.toLowerCase(), `${label}: upn stored lower-cased`);
          assert.equal(m.email, "grace@contoso.com", label);
          assert.equal(m.name, "Grace Hopper", label);
          assert.equal(m.serviceUrl, SERVICE_URL, label);
          assert.equal(m.timeZone, "America/New_York", label);
          assert.ok(Number.isFinite(Date.parse(m.updatedAt)), label);
        };
        expectMatch(await store.members.find({ aadObjectId: aad }), "aad");
        expectMatch(await store.members.find({ aadObjectId: aad }, tenant), "aad+tenant");
        expectMatch(await store.members.find({ upn: upn.toUpperCase() }), "UPN");
        expectMatch(await store.members.find({ upn: upn.toLowerCase() }, tenant), "upn+tenant");
        expectMatch(await store.members.find({ userId }), "userId");
        expectMatch(await store.members.find({ userId }, tenant), "userId+tenant");
        expectMatch(await store.members.get(tenant, userId), "get");
        assert.equal(await store.members.find({ aadObjectId: aad }, otherTenant), undefined);
        assert.equal(await store.members.find({ upn }, otherTenant), undefined);
        assert.equal(await store.members.find({ userId }, otherTenant), undefined);
        assert.equal(await store.members.get(otherTenant, userId), undefined);
        assert.equal(await store.members.find({ aadObjectId: randomUUID() }), undefined);
        assert.equal(await store.members.find({ upn: `nobody-${randomUUID()}@contoso.com` }), undefined);
        assert.equal(await store.members.find({ userId: `29:1${randomUUID()}` }), undefined);
      });

      it("upsertMembers merges: absent fields are kept, a changed upn moves the lookup", async function () {
        const tenant = randomUUID();
        const source = targetKey(tenant, `19:${randomUUID()}@thread.v2`);
        const userId = `29:1${randomUUID()}`;
        const aad = randomUUID();
        const oldUpn = `old-${randomUUID()}@contoso.com`;
        const newUpn = `new-${randomUUID()}@contoso.com`;
        await store.members.upsertMembers(source, [memberInput(tenant, userId, { aadObjectId: aad, upn: oldUpn, email: "e@contoso.com", name: "Old Name", timeZone: "Asia/Tokyo" })]);
        await store.members.upsertMembers(source, [memberInput(tenant, userId, { upn: newUpn, name: "New Name" })]);
        const m = await store.members.get(tenant, userId);
        assert.equal(m?.name, "New Name");
        assert.equal(m?.upn, newUpn);
        assert.equal(m?.aadObjectId, aad);
        assert.equal(m?.email, "e@contoso.com");
        assert.equal(m?.timeZone, "Asia/Tokyo");
        assert.equal((await store.members.find({ upn: newUpn }))?.userId, userId);
        assert.equal(await store.members.find({ upn: oldUpn }), undefined, "the old upn no longer finds them");
        assert.equal(await store.members.countBySource(source), 1);
      });

      it("records membership per source; removeMembership and removeSource forget memberships, not people", async function () {
        const tenant = randomUUID();
        const team = targetKey(tenant, `19:${randomUUID()}@thread.tacv2`);
        const chat = targetKey(tenant, `19:${randomUUID()}@thread.v2`);
        const ids = Array.from({ length: 5 }, (_, i) => `29:1u${i}-${randomUUID()}`);
        await store.members.upsertMembers(team, ids.map((id) => memberInput(tenant, id)));
        await store.members.upsertMembers(chat, ids.slice(0, 2).map((id) => memberInput(tenant, id)));
        assert.equal(await store.members.countBySource(team), 5);
        assert.equal(await store.members.countBySource(chat), 2);
        // upserting again does not duplicate memberships
        await store.members.upsertMembers(team, ids.slice(0, 3).map((id) => memberInput(tenant, id)));
        assert.equal(await store.members.countBySource(team), 5);

        await store.members.removeMembership(team, [ids[0]!, ids[1]!, `29:1never-${randomUUID()}`]);
        assert.equal(await store.members.countBySource(team), 3);
        assert.deepEqual((await store.members.listBySource(team, 100)).items.map((m) => m.userId), [...ids.slice(2)].sort(compareStrings));
        assert.equal(await store.members.countBySource(chat), 2, "the other source is untouched");
        assert.ok(await store.members.get(tenant, ids[0]!), "the person is still known");

        await store.members.removeSource(team);
        assert.equal(await store.members.countBySource(team), 0);
        assert.deepEqual((await store.members.listBySource(team, 100)).items, []);
        assert.equal(await store.members.countBySource(chat), 2);
        assert.ok(await store.members.get(tenant, ids[4]!));
        assert.equal(await store.members.countBySource(targetKey(tenant, "19:unknown@thread.v2")), 0);
      });

      it("listBySource pages 1,234 members by userId, each exactly once", async function () {
        this.timeout(120_000);
        const tenant = randomUUID();
        const source = targetKey(tenant, `19:${randomUUID()}@thread.tacv2`);
        const ids = Array.from({ length: 1234 }, (_, i) => `29:1${(i * 613 % 1234).toString(36).padStart(3, "0")}-${i}`);
        for (let i = 0; i < ids.length; i += 200) {
          await store.members.upsertMembers(source, ids.slice(i, i + 200).map((id) => memberInput(tenant, id, { name: `n${id}` })));
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.members.listBySource(source, 100, cursor);
          assert.ok(page.items.length <= 100);
          for (const m of page.items) {
            assert.equal(m.tenantId, tenant);
            assert.equal(m.name, `n${m.userId}`);
            seen.push(m.userId);
          }
          cursor = page.cursor;
          assert.ok(++pages <= 20, "paging does not terminate");
        } while (cursor);
        assert.equal(seen.length, 1234);
        assert.deepEqual(seen, [...ids].sort(compareStrings));
        assert.equal(await store.members.countBySource(source), 1234);
      });

      it("setPersonalConversation remembers the 1:1 conversation and later upserts keep it", async function () {
        const tenant = randomUUID();
        const source = targetKey(tenant, `19:${randomUUID()}@thread.tacv2`);
        const userId = `29:1${randomUUID()}`;
        await store.members.upsertMembers(source, [memberInput(tenant, userId, { name: "Linus" })]);
        assert.equal((await store.members.get(tenant, userId))?.personalConversationId, undefined);
        await store.members.setPersonalConversation(tenant, userId, "a:1personal-conv");
        assert.equal((await store.members.get(tenant, userId))?.personalConversationId, "a:1personal-conv");
        await store.members.upsertMembers(source, [memberInput(tenant, userId, { name: "Linus T" })]);
        const m = await store.members.get(tenant, userId);
        assert.equal(m?.personalConversationId, "a:1personal-conv");
        assert.equal(m?.name, "Linus T");
        assert.equal((await store.members.find({ userId }, tenant))?.personalConversationId, "a:1personal-conv");
      });

      it("removePerson (erasure) forgets the person and every lookup of them; others, and other tenants, stay", async function () {
        const tenant = randomUUID();
        const otherTenant = randomUUID();
        const team = targetKey(tenant, `19:${randomUUID()}@thread.tacv2`);
        const chat = targetKey(tenant, `19:${randomUUID()}@thread.v2`);
        const userId = `29:1${randomUUID()}`;
        const aad = randomUUID();
        const upn = `erase.me.${randomUUID().slice(0, 8)}@contoso.com`;
        const colleague = `29:1${randomUUID()}`;
        const person = memberInput(tenant, userId, { aadObjectId: aad, upn, email: upn, name: "Erase Me", personalConversationId: "a:1erase", timeZone: "Europe/Paris" });
        await store.members.upsertMembers(team, [person, memberInput(tenant, colleague, { name: "Stays" })]);
        await store.members.upsertMembers(chat, [person]);
        await store.members.upsertMembers(targetKey(otherTenant, "19:x@thread.v2"), [memberInput(otherTenant, userId, { name: "Same id, other tenant" })]);

        await store.members.removeMembership(team, [userId]);
        await store.members.removeMembership(chat, [userId]);
        assert.equal(await store.members.removePerson(tenant, userId), true);

        assert.equal(await store.members.get(tenant, userId), undefined);
        assert.equal(await store.members.find({ aadObjectId: aad }), undefined);
        assert.equal(await store.members.find({ aadObjectId: aad }, tenant), undefined);
        assert.equal(await store.members.find({ upn }), undefined);
        assert.equal(await store.members.find({ upn }, tenant), undefined);
        assert.equal(await store.members.find({ userId }, tenant), undefined);
        assert.equal((await store.members.find({ userId }))?.tenantId, otherTenant, "the other tenant's person is another person");
        assert.deepEqual((await store.members.listBySource(team, 10)).items.map((m) => m.userId), [colleague]);
        assert.equal(await store.members.countBySource(team), 1);
        assert.equal(await store.members.countBySource(chat), 0);
        assert.equal((await store.members.get(tenant, colleague))?.name, "Stays");
        assert.equal(await store.members.removePerson(tenant, userId), false, "a second time: nothing to remove");

        // The person can come back later (a new install) and is found again.
        await store.members.upsertMembers(team, [memberInput(tenant, userId, { aadObjectId: aad })]);
        assert.equal((await store.members.find({ aadObjectId: aad }, tenant))?.userId, userId);
      });
    });

    describe("jobs", function () {
      it("createJob persists a job with 10,000 deliveries in seq order", async function () {
        this.timeout(120_000);
        const tenant = randomUUID();
        const deliveries = deliveryInputs(tenant, 10_000);
        deliveries[3] = { ...deliveries[3]!, status: "skipped", reason: "opted out" };
        const input = jobInput({ audience: { targets: "all", tenantId: tenant }, category: "digest" });
        const { job, created } = await store.jobs.createJob(input, deliveries);
        assert.equal(created, true);
        assert.equal(job.id, input.id);
        assert.equal(job.total, 10_000);
        assert.equal(job.throttleRetries, 0);
        assert.equal(job.status, "queued");
        assert.equal(job.category, "digest");
        assert.deepEqual(job.content, input.content);
        assert.deepEqual(job.audience, input.audience);
        assert.deepEqual(stripUndefined(await store.jobs.getJob(input.id)), stripUndefined(job));

        const seen: string[] = [];
        let cursor: string | undefined;
        let expectedSeq = 0;
        do {
          const page = await store.jobs.listDeliveries(input.id, 1000, cursor);
          for (const d of page.items) {
            assert.equal(d.seq, expectedSeq++);
            assert.equal(d.jobId, input.id);
            seen.push(d.recipientKey);
          }
          cursor = page.cursor;
        } while (cursor);
        assert.deepEqual(seen, deliveries.map((d) => d.recipientKey));

        const d3 = await store.jobs.getDelivery(input.id, deliveries[3]!.recipientKey);
        assert.equal(d3?.status, "skipped");
        assert.equal(d3?.reason, "opted out");
        const d9999 = await store.jobs.getDelivery(input.id, deliveries[9999]!.recipientKey);
        assert.equal(d9999?.seq, 9999);
        assert.equal(d9999?.status, "pending");
        assert.equal(d9999?.attempts, 0);
        assert.equal(d9999?.throttled, 0);
        assert.deepEqual(stripUndefined(d9999?.recipient), stripUndefined(deliveries[9999]!.recipient));
        assert.deepEqual(await store.jobs.counts(input.id), { ...zeroCounts(), total: 10_000, pending: 9_999, skipped: 1 });
      });

      it("createJob collapses a repeated recipientKey to its first occurrence", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, 4);
        const input = jobInput();
        const { job } = await store.jobs.createJob(input, [ds[0]!, ds[1]!, { ...ds[0]!, reason: "dup" }, ds[2]!, ds[3]!, ds[1]!]);
        assert.equal(job.total, 4);
        const page = await store.jobs.listDeliveries(input.id, 10);
        assert.deepEqual(page.items.map((d) => [d.seq, d.recipientKey]), ds.map((d, i) => [i, d.recipientKey]));
        assert.equal(page.items[0]!.reason, undefined);
      });

      it("createJob with no deliveries makes an empty job", async function () {
        const input = jobInput();
        const { job } = await store.jobs.createJob(input, []);
        assert.equal(job.total, 0);
        assert.deepEqual(await store.jobs.counts(input.id), zeroCounts());
        assert.deepEqual(await store.jobs.listDeliveries(input.id, 10), { items: [] });
      });

      it("createJob with an existing idempotency key writes nothing and returns the first job", async function () {
        const tenant = randomUUID();
        const key = `idem-${randomUUID()}`;
        const first = jobInput({ idempotencyKey: key });
        const r1 = await store.jobs.createJob(first, deliveryInputs(tenant, 3));
        assert.equal(r1.created, true);
        const second = jobInput({ idempotencyKey: key, content: { title: "other", text: "other" } });
        const r2 = await store.jobs.createJob(second, deliveryInputs(tenant, 5));
        assert.equal(r2.created, false);
        assert.equal(r2.job.id, first.id);
        assert.equal(r2.job.total, 3);
        assert.equal(r2.job.content.title, first.content.title);
        assert.equal(await store.jobs.getJob(second.id), undefined);
        assert.equal((await store.jobs.counts(second.id)).total, 0);
        assert.equal((await store.jobs.findByIdempotencyKey(key))?.id, first.id);
        assert.equal(await store.jobs.findByIdempotencyKey(`idem-${randomUUID()}`), undefined);
      });

      it("createJob: 10 concurrent calls with one idempotency key create exactly one job", async function () {
        const tenant = randomUUID();
        const key = `idem-${randomUUID()}`;
        const inputs = Array.from({ length: 10 }, () => jobInput({ idempotencyKey: key }));
        const results = await Promise.all(inputs.map((j) => store.jobs.createJob(j, deliveryInputs(tenant, 20))));
        assert.equal(results.filter((r) => r.created).length, 1);
        const winnerId = results.find((r) => r.created)!.job.id;
        for (const r of results) assert.equal(r.job.id, winnerId);
        for (const j of inputs) {
          if (j.id !== winnerId) assert.equal(await store.jobs.getJob(j.id), undefined);
        }
        assert.equal((await store.jobs.counts(winnerId)).total, 20);
      });

      it("getJob of an unknown id is undefined", async function () {
        assert.equal(await store.jobs.getJob(randomUUID()), undefined);
        assert.equal(await store.jobs.getDelivery(randomUUID(), "nothing"), undefined);
      });

      it("createJob records createdBy (the API caller) when given, and leaves it absent otherwise", async function () {
        const withCaller = jobInput({ createdBy: "key:build-pipeline" });
        const { job } = await store.jobs.createJob(withCaller, []);
        assert.equal(job.createdBy, "key:build-pipeline");
        assert.equal((await store.jobs.getJob(withCaller.id))?.createdBy, "key:build-pipeline");
        const withoutCaller = jobInput();
        await store.jobs.createJob(withoutCaller, []);
        assert.equal((await store.jobs.getJob(withoutCaller.id))?.createdBy, undefined);
      });

      it("listJobs returns newest first and pages without repeats", async function () {
        // Far-future, run-unique timestamps so this run's jobs are near the top even in a shared store.
        const base = Date.UTC(2900, 0, 1) + Math.floor(Math.random() * 1e9) * 1000;
        const mine = Array.from({ length: 7 }, (_, i) =>
          jobInput({ createdAt: new Date(base + (i % 5) * 1000).toISOString() }),
        );
        for (const j of shuffle([...mine])) await store.jobs.createJob(j, []);
        const mineIds = new Set(mine.map((j) => j.id));
        const found: Job[] = [];
        const seen = new Set<string>();
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.jobs.listJobs(2, cursor);
          assert.ok(page.items.length <= 2);
          for (const j of page.items) {
            assert.ok(!seen.has(j.id), "no job twice");
            seen.add(j.id);
            if (mineIds.has(j.id)) found.push(j);
          }
          cursor = page.cursor;
          assert.ok(++pages < 5000, "paging does not terminate");
        } while (cursor && found.length < mine.length);
        assert.equal(found.length, mine.length);
        for (let i = 1; i < found.length; i++) {
          assert.ok(found[i - 1]!.createdAt >= found[i]!.createdAt, "newest first");
        }
      });

      it("listUnfinishedJobs returns queued and running jobs only", async function () {
        const statuses = ["queued", "running", "completed", "failed", "cancelled"] as const;
        const jobs = statuses.map((status) => jobInput({ status }));
        for (const j of jobs) await store.jobs.createJob(j, []);
        const extra = jobInput({ status: "queued" });
        await store.jobs.createJob(extra, []);
        await store.jobs.updateJob(extra.id, { status: "completed" });
        const unfinished = (await store.jobs.listUnfinishedJobs()).filter((j) => jobs.some((m) => m.id === j.id) || j.id === extra.id);
        assert.deepEqual(unfinished.map((j) => j.status).sort(), ["queued", "running"]);
        for (const j of await store.jobs.listUnfinishedJobs()) assert.ok(j.status === "queued" || j.status === "running");
      });

      it("updateJob sets fields, bumps updatedAt and adds throttleRetriesIncrement (also concurrently)", async function () {
        const input = jobInput({ createdAt: "2020-03-01T00:00:00.000Z" });
        const { job } = await store.jobs.createJob(input, []);
        assert.equal(job.updatedAt, "2020-03-01T00:00:00.000Z");
        await store.jobs.updateJob(input.id, { status: "running", startedAt: "2020-03-01T00:00:01.000Z", throttleRetriesIncrement: 2 });
        await store.jobs.updateJob(input.id, { throttleRetriesIncrement: 3 });
        let stored = await store.jobs.getJob(input.id);
        assert.equal(stored?.status, "running");
        assert.equal(stored?.startedAt, "2020-03-01T00:00:01.000Z");
        assert.equal(stored?.throttleRetries, 5);
        assert.ok(stored && stored.updatedAt > "2020-03-01T00:00:00.000Z");
        await Promise.all(Array.from({ length: 20 }, () => store.jobs.updateJob(input.id, { throttleRetriesIncrement: 1 })));
        stored = await store.jobs.getJob(input.id);
        assert.equal(stored?.throttleRetries, 25);
        await store.jobs.updateJob(input.id, { status: "failed", finishedAt: "2020-03-01T00:05:00.000Z", error: "boom" });
        stored = await store.jobs.getJob(input.id);
        assert.equal(stored?.status, "failed");
        assert.equal(stored?.finishedAt, "2020-03-01T00:05:00.000Z");
        assert.equal(stored?.error, "boom");
        assert.equal(stored?.startedAt, "2020-03-01T00:00:01.000Z", "absent fields kept");
        assert.equal(stored?.throttleRetries, 25);
        assert.equal(stored?.total, 0);
      });

      it("updateDelivery changes status, adds increments, sets and clears notBefore, replaces the recipient", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, 3);
        const input = jobInput();
        await store.jobs.createJob(input, ds);
        const key = ds[1]!.recipientKey;
        await store.jobs.updateDelivery(input.id, key, { status: "sending", attemptsIncrement: 1 });
        await store.jobs.updateDelivery(input.id, key, { status: "pending", throttledIncrement: 1, attemptsIncrement: 1, notBefore: 1_900_000_000_000, reason: "429" });
        let d = await store.jobs.getDelivery(input.id, key);
        assert.equal(d?.status, "pending");
        assert.equal(d?.attempts, 2);
        assert.equal(d?.throttled, 1);
        assert.equal(d?.notBefore, 1_900_000_000_000);
        assert.equal(d?.reason, "429");
        assert.equal(d?.seq, 1);
        await Promise.all(Array.from({ length: 10 }, () => store.jobs.updateDelivery(input.id, key, { attemptsIncrement: 1 })));
        d = await store.jobs.getDelivery(input.id, key);
        assert.equal(d?.attempts, 12);
        assert.equal(d?.notBefore, 1_900_000_000_000, "absent notBefore is kept");
        const recipient = { ...ds[1]!.recipient, conversationId: "a:1created-1on1" };
        await store.jobs.updateDelivery(input.id, key, { status: "sent", activityId: "1:activity", notBefore: null, recipient });
        d = await store.jobs.getDelivery(input.id, key);
        assert.equal(d?.status, "sent");
        assert.equal(d?.activityId, "1:activity");
        assert.equal(d?.notBefore, undefined, "null clears notBefore");
        assert.equal(d?.recipient.conversationId, "a:1created-1on1");
        assert.equal(d?.recipient.userId, ds[1]!.recipient.userId);
        assert.equal(d?.reason, "429", "absent reason is kept");
        const other = await store.jobs.getDelivery(input.id, ds[0]!.recipientKey);
        assert.equal(other?.status, "pending");
        assert.equal(other?.attempts, 0);
        assert.deepEqual(await store.jobs.counts(input.id), { ...zeroCounts(), total: 3, pending: 2, sent: 1 });
      });

      it("listDeliveriesByStatus returns matching deliveries in seq order after afterSeq", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, 30);
        const input = jobInput();
        await store.jobs.createJob(input, ds);
        const statusOf = (seq: number): DeliveryStatus => (seq % 3 === 0 ? "sent" : seq % 3 === 1 ? "failed" : "pending");
        await Promise.all(ds.map((d, seq) => statusOf(seq) === "pending" ? undefined : store.jobs.updateDelivery(input.id, d.recipientKey, { status: statusOf(seq) })));

        const pending = await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 100);
        assert.deepEqual(pending.map((d) => d.seq), [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]);
        for (const d of pending) assert.equal(d.recipientKey, ds[d.seq]!.recipientKey);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 3)).map((d) => d.seq), [2, 5, 8]);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 3, 8)).map((d) => d.seq), [11, 14, 17]);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 3, 9)).map((d) => d.seq), [11, 14, 17]);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["pending", "failed"], 4, 20)).map((d) => d.seq), [22, 23, 25, 26]);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 10, 29)), []);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["gone"], 10)), []);
        assert.deepEqual((await store.jobs.listDeliveriesByStatus(input.id, ["sent"], 2, -1)).map((d) => d.seq), [0, 3]);
      });

      it("listDeliveries pages with a status filter", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, 25);
        const input = jobInput();
        await store.jobs.createJob(input, ds);
        for (let seq = 0; seq < 25; seq += 2) await store.jobs.updateDelivery(input.id, ds[seq]!.recipientKey, { status: "sent" });
        const collect = async (status?: DeliveryStatus) => {
          const seqs: number[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.jobs.listDeliveries(input.id, 4, cursor, status);
            assert.ok(page.items.length <= 4);
            for (const d of page.items) {
              if (status) assert.equal(d.status, status);
              seqs.push(d.seq);
            }
            cursor = page.cursor;
            assert.ok(++pages <= 20);
          } while (cursor);
          return seqs;
        };
        assert.deepEqual(await collect(), Array.from({ length: 25 }, (_, i) => i));
        assert.deepEqual(await collect("sent"), Array.from({ length: 13 }, (_, i) => i * 2));
        assert.deepEqual(await collect("pending"), Array.from({ length: 12 }, (_, i) => i * 2 + 1));
        assert.deepEqual(await collect("gone"), []);
      });

      it("transitionAll moves one status to another and reports how many moved", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, 12);
        const input = jobInput();
        await store.jobs.createJob(input, ds);
        for (const seq of [0, 1, 2]) await store.jobs.updateDelivery(input.id, ds[seq]!.recipientKey, { status: "sent" });
        await store.jobs.updateDelivery(input.id, ds[3]!.recipientKey, { status: "sending" });
        assert.equal(await store.jobs.transitionAll(input.id, "pending", "cancelled", "cancelled by api"), 8);
        const d = await store.jobs.getDelivery(input.id, ds[11]!.recipientKey);
        assert.equal(d?.status, "cancelled");
        assert.equal(d?.reason, "cancelled by api");
        assert.equal((await store.jobs.getDelivery(input.id, ds[0]!.recipientKey))?.status, "sent");
        assert.equal((await store.jobs.getDelivery(input.id, ds[3]!.recipientKey))?.status, "sending");
        assert.equal(await store.jobs.transitionAll(input.id, "pending", "cancelled"), 0);
        assert.equal(await store.jobs.transitionAll(input.id, "sending", "pending"), 1);
        assert.deepEqual(await store.jobs.counts(input.id), { ...zeroCounts(), total: 12, sent: 3, cancelled: 8, pending: 1 });
        assert.equal(await store.jobs.transitionAll(randomUUID(), "pending", "cancelled"), 0);
      });

      it("counts covers every status", async function () {
        const tenant = randomUUID();
        const ds = deliveryInputs(tenant, DELIVERY_STATUSES.length * 2);
        const input = jobInput();
        await store.jobs.createJob(input, ds);
        await Promise.all(ds.map((d, i) => store.jobs.updateDelivery(input.id, d.recipientKey, { status: DELIVERY_STATUSES[i % DELIVERY_STATUSES.length]! })));
        const expected = zeroCounts();
        for (const s of DELIVERY_STATUSES) expected[s] = 2;
        expected.total = ds.length;
        assert.deepEqual(await store.jobs.counts(input.id), expected);
        assert.deepEqual(await store.jobs.counts(randomUUID()), zeroCounts());
      });
    });

    describe("retention", function () {
      it("lists finished jobs older than a cutoff, purges their deliveries in batches, then removes them", async function () {
        this.timeout(60_000);
        const tenant = randomUUID();
        const old = jobInput({ createdAt: "2020-01-01T00:00:00.000Z", idempotencyKey: `retention-${randomUUID()}` });
        const recent = jobInput({ createdAt: "2020-01-01T00:00:00.000Z" });
        const running = jobInput({ createdAt: "2020-01-01T00:00:00.000Z", status: "running" });
        await store.jobs.createJob(old, deliveryInputs(tenant, 250));
        await store.jobs.createJob(recent, deliveryInputs(tenant, 3));
        await store.jobs.createJob(running, deliveryInputs(tenant, 3));
        await store.jobs.updateJob(old.id, { status: "completed", finishedAt: "2020-01-02T00:00:00.000Z" });
        await store.jobs.updateJob(recent.id, { status: "cancelled", finishedAt: "2020-03-01T00:00:00.000Z" });

        const due = (await store.jobs.listFinishedBefore("2020-02-01T00:00:00.000Z", 1000)).map((j) => j.id);
        assert.ok(due.includes(old.id));
        assert.ok(!due.includes(recent.id), "finished after the cutoff");
        assert.ok(!due.includes(running.id), "not finished");
        assert.equal(await store.jobs.purgeDeliveries(running.id, 100), 0, "an unfinished job keeps its deliveries");
        assert.equal(await store.jobs.removeJob(running.id), false);

        let removed = 0;
        for (let n = await store.jobs.purgeDeliveries(old.id, 100); n > 0; n = await store.jobs.purgeDeliveries(old.id, 100)) {
          assert.ok(n <= 100 + 10, `a batch removes about the batch size (${n})`);
          removed += n;
        }
        assert.ok(removed >= 250, `every delivery row went (${removed} rows)`);
        assert.equal((await store.jobs.listDeliveries(old.id, 10)).items.length, 0);
        assert.equal(await store.jobs.removeJob(old.id), true);
        assert.equal(await store.jobs.getJob(old.id), undefined);
        assert.equal(await store.jobs.findByIdempotencyKey(old.idempotencyKey!), undefined, "its idempotency key is free again");
        assert.ok(!(await store.jobs.listJobs(1000)).items.some((j) => j.id === old.id));
        assert.equal((await store.jobs.getJob(recent.id))?.status, "cancelled");
        assert.equal((await store.jobs.counts(recent.id)).total, 3);
      });
    });

    describe("job slices, work items and conditional writes", function () {
      it("keeps a job's slices and gives each slice a work item in its partition, until removed", async function () {
        const a = deliveryInputs(randomUUID(), 3);
        const b = deliveryInputs(randomUUID(), 2);
        const input = jobInput({ slices: [{ partition: 7, firstSeq: 0, count: 3 }, { partition: 19, firstSeq: 3, count: 2 }] });
        const { job } = await store.jobs.createJob(input, [...a, ...b]);
        assert.deepEqual(job.slices, input.slices);
        assert.deepEqual((await store.jobs.getJob(input.id))?.slices, input.slices);

        const mine = (items: Awaited<ReturnType<HeraldStore["work"]["list"]>>) => items.filter((w) => w.id === input.id);
        assert.deepEqual(mine(await store.work.list([7, 19])).map((w) => [w.partition, w.kind]), [[7, "job"], [19, "job"]]);
        assert.deepEqual(mine(await store.work.list([19])).map((w) => w.partition), [19]);
        assert.deepEqual(mine(await store.work.list([3, 4])), []);
        assert.equal(mine(await store.work.list()).length, 2);
        assert.equal(await store.work.remove(7, "job", input.id), true);
        assert.equal(await store.work.remove(7, "job", input.id), false);
        assert.deepEqual(mine(await store.work.list()).map((w) => w.partition), [19]);
      });

      it("a job written without slices has one slice in partition 0 (none when empty)", async function () {
        const full = jobInput();
        const { job } = await store.jobs.createJob(full, deliveryInputs(randomUUID(), 4));
        assert.deepEqual(job.slices, [{ partition: 0, firstSeq: 0, count: 4 }]);
        const empty = jobInput();
        assert.deepEqual((await store.jobs.createJob(empty, [])).job.slices, []);
        assert.deepEqual((await store.work.list([0])).filter((w) => w.id === empty.id), []);
      });

      it("refuses slices that do not tile the deliveries, storing nothing", async function () {
        const input = jobInput({ slices: [{ partition: 1, firstSeq: 0, count: 2 }] });
        await assert.rejects(store.jobs.createJob(input, deliveryInputs(randomUUID(), 3)), /slices/);
        assert.equal(await store.jobs.getJob(input.id), undefined);
      });

      it("work items: put replaces, list keeps partition then age order, data survives", async function () {
        const id = randomUUID();
        await store.work.put({ partition: 30, kind: "roster", id, data: { serviceUrl: SERVICE_URL, n: 1 }, createdAt: "2020-01-01T00:00:00.000Z" });
        await store.work.put({ partition: 30, kind: "roster", id, data: { serviceUrl: SERVICE_URL, n: 2 }, createdAt: "2020-01-01T00:00:00.000Z" });
        const items = (await store.work.list([30])).filter((w) => w.id === id);
        assert.deepEqual(items, [{ partition: 30, kind: "roster", id, data: { serviceUrl: SERVICE_URL, n: 2 }, createdAt: "2020-01-01T00:00:00.000Z" }]);
        assert.equal(await store.work.remove(30, "roster", id), true);
      });

      it("lists deliveries by status within a seq range and transitions only inside it", async function () {
        const input = jobInput();
        await store.jobs.createJob(input, deliveryInputs(randomUUID(), 10));
        const seqs = async (after?: number, before?: number) =>
          (await store.jobs.listDeliveriesByStatus(input.id, ["pending"], 100, after, before)).map((d) => d.seq);
        assert.deepEqual(await seqs(undefined, 4), [0, 1, 2, 3]);
        assert.deepEqual(await seqs(3, 7), [4, 5, 6]);
        assert.deepEqual(await seqs(5, 6), []);
        assert.deepEqual(await seqs(6), [7, 8, 9]);
        assert.equal(await store.jobs.transitionAll(input.id, "pending", "sending", undefined, { from: 4, to: 7 }), 3);
        assert.deepEqual(await seqs(), [0, 1, 2, 3, 7, 8, 9]);
        const counts = await store.jobs.counts(input.id);
        assert.equal(counts.sending, 3);
        assert.equal(counts.pending, 7);
      });

      it("updateDelivery with an expected status changes the delivery only while it is in that status", async function () {
        const deliveries = deliveryInputs(randomUUID(), 2);
        const input = jobInput();
        await store.jobs.createJob(input, deliveries);
        const key = deliveries[0]!.recipientKey;
        assert.equal(await store.jobs.updateDelivery(input.id, key, { status: "sending", attemptsIncrement: 1 }, "pending"), true);
        assert.equal(await store.jobs.updateDelivery(input.id, key, { status: "sending", attemptsIncrement: 1 }, "pending"), false);
        const d = await store.jobs.getDelivery(input.id, key);
        assert.equal(d?.status, "sending");
        assert.equal(d?.attempts, 1);
        assert.equal((await store.jobs.counts(input.id)).sending, 1);
        assert.equal(await store.jobs.updateDelivery(input.id, "no-such-recipient", { status: "sent" }, "pending"), false);
        // Two racing check-and-sets: exactly one wins.
        const other = deliveries[1]!.recipientKey;
        const wins = await Promise.all(Array.from({ length: 5 }, () =>
          store.jobs.updateDelivery(input.id, other, { status: "sending", attemptsIncrement: 1 }, "pending")));
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal((await store.jobs.getDelivery(input.id, other))?.attempts, 1);
      });

      it("updateJob with onlyIf leaves a job in another status alone", async function () {
        const input = jobInput({ status: "running" });
        await store.jobs.createJob(input, []);
        assert.equal(await store.jobs.updateJob(input.id, { status: "cancelled" }, ["queued", "running"]), true);
        assert.equal(await store.jobs.updateJob(input.id, { status: "completed" }, ["queued", "running"]), false);
        assert.equal((await store.jobs.getJob(input.id))?.status, "cancelled");
        assert.equal(await store.jobs.updateJob(randomUUID(), { status: "completed" }), false);
      });
    });

    describe("preferences", function () {
      it("optOut per category and '*', checked against several user keys; optIn undoes it", async function () {
        const tenant = randomUUID();
        const aad = randomUUID();
        const userId = `29:1${randomUUID()}`;
        await store.preferences.optOut(tenant, aad, "daily-digest");
        await store.preferences.optOut(tenant, aad, "daily-digest"); // idempotent
        assert.equal(await store.preferences.isOptedOut(tenant, [userId, aad], "daily-digest"), true);
        assert.equal(await store.preferences.isOptedOut(tenant, [aad], "daily-digest"), true);
        assert.equal(await store.preferences.isOptedOut(tenant, [userId], "daily-digest"), false);
        assert.equal(await store.preferences.isOptedOut(tenant, [userId, aad], "incidents"), false);
        assert.equal(await store.preferences.isOptedOut(tenant, [userId, aad], undefined), false, "general notifications still arrive");
        assert.equal(await store.preferences.isOptedOut(randomUUID(), [aad], "daily-digest"), false, "other tenant");
        assert.equal(await store.preferences.isOptedOut(tenant, [], "daily-digest"), false);
        const list = await store.preferences.list(tenant, aad);
        assert.equal(list.length, 1);
        assert.equal(list[0]!.category, "daily-digest");
        assert.equal(list[0]!.tenantId, tenant);
        assert.equal(list[0]!.userKey, aad);
        assert.ok(Number.isFinite(Date.parse(list[0]!.at)));

        await store.preferences.optOut(tenant, userId, "*");
        for (const category of ["incidents", "daily-digest", undefined]) {
          assert.equal(await store.preferences.isOptedOut(tenant, [aad, userId], category), true, `'*' covers ${category}`);
        }
        await store.preferences.optIn(tenant, aad, "daily-digest");
        assert.deepEqual(await store.preferences.list(tenant, aad), []);
        assert.equal(await store.preferences.isOptedOut(tenant, [aad], "daily-digest"), false);
        assert.equal(await store.preferences.isOptedOut(tenant, [aad, userId], "daily-digest"), true, "'*' of the user id still applies");
        await store.preferences.optIn(tenant, userId, "*");
        assert.equal(await store.preferences.isOptedOut(tenant, [aad, userId], undefined), false);
      });

      it("optedOutAmong answers for many keys of one tenant at once, and follows optIn", async function () {
        const tenant = randomUUID();
        const keys = Array.from({ length: 30 }, () => randomUUID());
        await store.preferences.optOut(tenant, keys[0]!, "builds");
        await store.preferences.optOut(tenant, keys[1]!, "*");
        await store.preferences.optOut(tenant, keys[2]!, "other-topic");
        await store.preferences.optOut(randomUUID(), keys[3]!, "*"); // another tenant
        assert.deepEqual([...(await store.preferences.optedOutAmong(tenant, keys, "builds"))].sort(), [keys[0]!, keys[1]!].sort());
        assert.deepEqual([...(await store.preferences.optedOutAmong(tenant, keys, undefined))], [keys[1]!]);
        assert.deepEqual([...(await store.preferences.optedOutAmong(tenant, [], "builds"))], []);
        await store.preferences.optIn(tenant, keys[1]!, "*");
        await store.preferences.optIn(tenant, keys[0]!, "builds");
        assert.deepEqual([...(await store.preferences.optedOutAmong(tenant, keys, "builds"))], []);
      });

      it("optIn '*' removes every opt-out of that user and only of that user", async function () {
        const tenant = randomUUID();
        const user = randomUUID();
        const other = randomUUID();
        for (const c of ["a", "b", "*"]) await store.preferences.optOut(tenant, user, c);
        await store.preferences.optOut(tenant, other, "a");
        assert.deepEqual((await store.preferences.list(tenant, user)).map((o) => o.category).sort(), ["*", "a", "b"]);
        await store.preferences.optIn(tenant, user, "b");
        assert.deepEqual((await store.preferences.list(tenant, user)).map((o) => o.category).sort(), ["*", "a"]);
        await store.preferences.optIn(tenant, user, "*");
        assert.deepEqual(await store.preferences.list(tenant, user), []);
        assert.equal(await store.preferences.isOptedOut(tenant, [user], "a"), false);
        assert.equal(await store.preferences.isOptedOut(tenant, [other], "a"), true);
        await store.preferences.optIn(tenant, randomUUID(), "*"); // nothing to remove: fine
      });
    });

    describe("schedules", function () {
      it("claimSlot returns true exactly once per (schedule, slot); lastSlot is the latest claim", async function () {
        const schedule = `daily-${randomUUID()}`;
        assert.equal(await store.schedules.lastSlot(schedule), undefined);
        const slot1 = "2026-11-27T09:00:00.000Z|Europe/Berlin";
        const slot2 = "2026-11-28T09:00:00.000Z|Europe/Berlin";
        assert.equal(await store.schedules.claimSlot(schedule, slot1, "job-1"), true);
        assert.equal(await store.schedules.claimSlot(schedule, slot1, "job-1b"), false);
        assert.equal((await store.schedules.lastSlot(schedule))?.slot, slot1);
        assert.equal(await store.schedules.claimSlot(schedule, slot2), true);
        assert.equal(await store.schedules.claimSlot(schedule, slot1), false);
        const last = await store.schedules.lastSlot(schedule);
        assert.equal(last?.slot, slot2, "a refused claim does not move lastSlot");
        assert.ok(last && Number.isFinite(Date.parse(last.at)));
        assert.equal(await store.schedules.claimSlot(`other-${randomUUID()}`, slot1), true, "slots are per schedule");
        assert.equal((await store.schedules.lastSlot(schedule))?.slot, slot2);
      });

      it("claimSlot: 20 racing claims, exactly one wins", async function () {
        const schedule = `race-${randomUUID()}`;
        const slot = "2026-12-01T08:00:00.000Z|UTC";
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.schedules.claimSlot(schedule, slot, `job-${i}`)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await store.schedules.lastSlot(schedule))?.slot, slot);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------- helpers

export function targetInput(tenantId: string, conversationId: string, kind: TargetKind, extra: Partial<TargetInput> = {}): TargetInput {
  const conversationType = kind;
  return {
    key: targetKey(tenantId, conversationId),
    kind,
    tenantId,
    conversationId,
    serviceUrl: SERVICE_URL,
    reference: {
      bot: { id: "28:herald-bot", name: "Herald" },
      conversation: { id: conversationId, conversationType, tenantId, isGroup: kind !== "personal", name: "" },
      channelId: "msteams",
      serviceUrl: SERVICE_URL,
    },
    ...extra,
  };
}

function memberInput(tenantId: string, userId: string, extra: Partial<MemberInput> = {}): MemberInput {
  return { tenantId, userId, serviceUrl: SERVICE_URL, ...extra };
}

function jobInput(extra: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    status: "queued",
    content: { title: "Maintenance tonight", text: "Systems are down 22:00–23:00.", url: "https://status.contoso.com" },
    audience: { targets: "all" },
    triggeredBy: "api",
    createdAt: new Date().toISOString(),
    ...extra,
  };
}

function deliveryInputs(tenantId: string, n: number): DeliveryInput[] {
  return Array.from({ length: n }, (_, i) => {
    const conversationId = `a:1conv-${i}-${tenantId.slice(0, 8)}`;
    const key = targetKey(tenantId, conversationId);
    return {
      recipientKey: key,
      recipient: { tenantId, serviceUrl: SERVICE_URL, conversationId, userId: `29:1user-${i}`, targetKey: key, name: `User ${i}` },
    };
  });
}

function zeroCounts() {
  return { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 };
}

/** Compare like SQL BINARY collation / Azure Table keys (code unit order is fine for the ASCII used here). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** Backends may return absent optional fields as missing or undefined; compare them the same. */
function stripUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value ?? null)) as T;
}
