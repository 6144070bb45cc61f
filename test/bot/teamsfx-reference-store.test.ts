import { strict as assert } from "node:assert";
import type { ConversationReference } from "botbuilder";
import { BotBuilderCloudAdapter } from "@microsoft/teamsfx";
import { createCloudAdapter } from "../../src/bot/adapter";
import { TeamsFxReferenceStore } from "../../src/bot/teamsfx-reference-store";
import { silentLogger } from "../../src/logger";
import { MemoryStore } from "../../src/store/memory";

const reference = (i: number, conversationType = "personal"): Partial<ConversationReference> => ({
  channelId: "msteams",
  serviceUrl: "https://smba.example/teams/",
  bot: { id: "28:herald", name: "Herald" },
  user: { id: `29:user-${i}`, name: `User ${i}`, aadObjectId: `aad-${i}` },
  conversation: { id: `a:conv-${i}`, conversationType, tenantId: "tenant-fx", isGroup: false, name: "" },
});

describe("TeamsFx compatibility: Herald's ConversationReferenceStore", () => {
  it("overwrite:false inserts when the key is absent (TeamsFx 3's file store skipped it once its file existed)", async () => {
    const store = new MemoryStore();
    const fx = new TeamsFxReferenceStore(store.targets);
    assert.equal(await fx.add("_tenant-fx_a:conv-1", reference(1), { overwrite: false }), true);
    assert.equal(await fx.add("_tenant-fx_a:conv-2", reference(2), { overwrite: false }), true, "a second key is added too");
    assert.equal(await fx.add("_tenant-fx_a:conv-1", reference(1), { overwrite: false }), false, "present: not changed");
    const target = await store.targets.get("_tenant-fx_a:conv-1");
    assert.equal(target?.kind, "personal");
    assert.equal(target?.aadObjectId, "aad-1");
  });

  it("overwrite:true updates, remove deletes", async () => {
    const store = new MemoryStore();
    const fx = new TeamsFxReferenceStore(store.targets);
    await fx.add("_tenant-fx_a:conv-1", reference(1), { overwrite: false });
    const moved = { ...reference(1), serviceUrl: "https://smba.example/emea/" };
    assert.equal(await fx.add("_tenant-fx_a:conv-1", moved, { overwrite: true }), true);
    assert.equal((await store.targets.get("_tenant-fx_a:conv-1"))?.serviceUrl, "https://smba.example/emea/");
    assert.equal(await fx.remove("_tenant-fx_a:conv-1", moved), true);
    assert.equal(await store.targets.get("_tenant-fx_a:conv-1"), undefined);
  });

  it("ConversationBot's getPagedInstallations pages through Herald's registry with real continuation tokens", async () => {
    const store = new MemoryStore();
    const fx = new TeamsFxReferenceStore(store.targets);
    for (let i = 0; i < 7; i++) await fx.add(`_tenant-fx_a:conv-${i}`, reference(i), { overwrite: true });
    await store.targets.markGone("_tenant-fx_a:conv-3", "ConversationBlockedByUser");
    const bot = new BotBuilderCloudAdapter.ConversationBot({
      adapter: createCloudAdapter({ botId: "", botPassword: "", botType: "MultiTenant", botTenantId: "" }, silentLogger()),
      notification: { enabled: true, store: fx, botAppId: "" },
    });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      // validationEnabled=false: no roster call per installation (that is what makes the template slow).
      const page = await bot.notification!.getPagedInstallations(3, token, false);
      seen.push(...page.data.map((installation) => installation.conversationReference.conversation!.id));
      token = page.continuationToken || undefined;
      pages++;
    } while (token);
    assert.equal(pages, 2);
    assert.equal(seen.length, 6, "the gone target is not offered");
    assert.ok(!seen.includes("a:conv-3"));
    assert.equal(new Set(seen).size, 6);
  });
});
