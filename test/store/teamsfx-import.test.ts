import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/logger";
import { MemoryStore } from "../../src/store/memory";
import { SqliteStore } from "../../src/store/sqlite";
import { importTeamsFxStore } from "../../src/store/teamsfx-import";
import type { HeraldStore } from "../../src/store/types";

const FIXTURE = join(__dirname, "fixtures", "teamsfx.notification.localstore.json");
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const PERSONAL = `_${TENANT}_a:1Bq9l4yzUyYQ3VqKdwGhnMi2hFoXJx0b1cYpY8xMkuPAU6Hr-_ugk1ZGhKf8wX6rN2G7tQ5e3sz9vLnF0oBdW4ycS`;
const GROUP = `_${TENANT}_19:5f3c8e9a0b1d4c2e8f7a6b5c4d3e2f10@thread.v2`;
const CHANNEL = `_${TENANT}_19:Qx7RyJv3mN8kPz2wLt5sHc9aBd1eFg4u@thread.tacv2`;
const OTHER_TENANT = "_b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e_a:1Zz-OtherTenantPersonal";

const EXPECTED_SKIPS: Record<string, RegExp> = {
  [`_${TENANT}_`]: /no conversation id/,
  [`_${TENANT}_a:1NoServiceUrl`]: /no serviceUrl/,
  [`_${TENANT}_19:meeting_abc@thread.v2`]: /unknown conversationType "meetingChat"/,
  "_00000000-0000-0000-0000-000000000000_a:1WrongTenantInKey": /key does not match.*expected _72f988bf/,
  [`_${TENANT}_a:1JustAString`]: /not an object/,
  [`_${TENANT}_a:1Null`]: /not an object/,
  [`_${TENANT}_a:1Array`]: /not an object/,
};

describe("importTeamsFxStore", function () {
  let dir: string;
  const stores: HeraldStore[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), "herald-teamsfx-")); });
  afterEach(async () => { for (const s of stores.splice(0)) await s.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const backends: Array<[string, () => HeraldStore]> = [
    ["memory", () => new MemoryStore()],
    ["sqlite", () => new SqliteStore(join(dir, `import-${stores.length}-${Date.now()}.db`), silentLogger())],
  ];

  for (const [name, make] of backends) {
    it(`imports personal, group chat and channel references and skips malformed ones with a reason (${name})`, async function () {
      const store = make();
      stores.push(store);
      const result = await importTeamsFxStore(FIXTURE, store, silentLogger());
      assert.equal(result.imported, 4);
      assert.equal(result.updated, 0);
      assert.equal(result.unchanged, 0);
      assert.deepEqual(result.skipped.map((s) => s.key).sort(), Object.keys(EXPECTED_SKIPS).sort());
      for (const s of result.skipped) assert.match(s.reason, EXPECTED_SKIPS[s.key]!, s.key);

      const source = JSON.parse(readFileSync(FIXTURE, "utf8"));
      const personal = await store.targets.get(PERSONAL);
      assert.equal(personal?.kind, "personal");
      assert.equal(personal?.status, "active");
      assert.equal(personal?.userId, "29:1v2Ik7cQzJ3h1ZgO-4nU5y8o0Yh6dC9rXf3Lw2Wq5sTbK7uPm1NjV8aHe0iGx4Rk");
      assert.equal(personal?.aadObjectId, "6de4f1e2-77a0-4a3f-9b5a-1f0c2e3d4b5a");
      assert.equal(personal?.name, "Adele Vance");
      assert.equal(personal?.locale, "en-US");
      assert.deepEqual(personal?.reference, source[PERSONAL], "the reference is kept whole for continueConversation");
      const group = await store.targets.get(GROUP);
      assert.equal(group?.kind, "groupChat");
      assert.equal(group?.userId, undefined);
      const channel = await store.targets.get(CHANNEL);
      assert.equal(channel?.kind, "channel");
      assert.equal(channel?.teamId, "19:Qx7RyJv3mN8kPz2wLt5sHc9aBd1eFg4u@thread.tacv2");
      assert.equal(channel?.serviceUrl, "https://smba.trafficmanager.net/amer/");
      assert.equal((await store.targets.get(OTHER_TENANT))?.locale, "de-DE");
      assert.equal(await store.targets.count({ tenantId: TENANT }), 3);

      const again = await importTeamsFxStore(FIXTURE, store, silentLogger());
      assert.deepEqual({ ...again, skipped: again.skipped.length }, { imported: 0, updated: 0, unchanged: 4, skipped: 7 });
      assert.equal(await store.targets.count({}), 4);
    });
  }

  it("updates entries whose reference changed and leaves Herald's own extra fields alone", async function () {
    const store = new MemoryStore();
    stores.push(store);
    await importTeamsFxStore(FIXTURE, store, silentLogger());
    await store.targets.upsert({ ...(await store.targets.get(CHANNEL))!, teamName: "Contoso Ops", timeZone: "Europe/Berlin" });
    const source = JSON.parse(readFileSync(FIXTURE, "utf8"));
    source[GROUP].serviceUrl = "https://smba.trafficmanager.net/emea/";
    const changed = join(dir, "changed.json");
    writeFileSync(changed, JSON.stringify(source));
    const result = await importTeamsFxStore(changed, store, silentLogger());
    assert.equal(result.updated, 1);
    assert.equal(result.unchanged, 3, "extra Herald fields on the channel do not count as a change");
    assert.equal((await store.targets.get(GROUP))?.serviceUrl, "https://smba.trafficmanager.net/emea/");
    const channel = await store.targets.get(CHANNEL);
    assert.equal(channel?.teamName, "Contoso Ops");
    assert.equal(channel?.timeZone, "Europe/Berlin");
  });

  it("does not bring back a target Herald knows is gone", async function () {
    const store = new MemoryStore();
    stores.push(store);
    await importTeamsFxStore(FIXTURE, store, silentLogger());
    await store.targets.markGone(PERSONAL, "ConversationBlockedByUser");
    const result = await importTeamsFxStore(FIXTURE, store, silentLogger());
    assert.equal(result.unchanged, 3);
    const skip = result.skipped.find((s) => s.key === PERSONAL);
    assert.match(skip?.reason ?? "", /gone \(ConversationBlockedByUser\)/);
    assert.equal((await store.targets.get(PERSONAL))?.status, "gone");
  });

  it("fails clearly, naming the file, when it is missing, not JSON or not an object", async function () {
    const store = new MemoryStore();
    stores.push(store);
    const missing = join(dir, "nope", ".notification.localstore.json");
    await assert.rejects(importTeamsFxStore(missing, store, silentLogger()), (e: Error) => e.message.includes(missing) && /cannot read/.test(e.message));
    const broken = join(dir, "broken.json");
    copyFileSync(FIXTURE, broken);
    writeFileSync(broken, readFileSync(broken, "utf8").slice(0, 500));
    await assert.rejects(importTeamsFxStore(broken, store, silentLogger()), (e: Error) => e.message.includes(broken) && /not valid JSON/.test(e.message));
    const array = join(dir, "array.json");
    writeFileSync(array, "[]");
    await assert.rejects(importTeamsFxStore(array, store, silentLogger()), (e: Error) => e.message.includes(array) && /JSON object/.test(e.message));
    assert.equal(await store.targets.count({}), 0);
  });
});
