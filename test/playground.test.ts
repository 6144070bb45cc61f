import { strict as assert } from "node:assert";
import { createHerald, type Herald } from "../src/app";
import { loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";
import { MemoryStore } from "../src/store/memory";
import { cardText, Playground, type PlaygroundConfig } from "./support/playground";

/**
 * End to end through Microsoft 365 Agents Playground (Teams emulated offline, started headless): install in a
 * personal chat, a group chat and a team, see the welcome, trigger a notification over the API, see the card.
 */
describe("end to end in Microsoft 365 Agents Playground", function () {
  this.timeout(90_000);
  let herald: Herald;
  let heraldUrl: string;
  let playground: Playground;
  let config: PlaygroundConfig;

  before(async () => {
    herald = await createHerald(loadConfig({ PORT: "0", HERALD_STORE: "memory" }), silentLogger(), { store: new MemoryStore() });
    heraldUrl = await herald.start();
    playground = await Playground.start(`${heraldUrl}/api/messages`);
    config = await playground.config();
  });
  after(async () => {
    await playground?.stop();
    await herald?.stop();
  });

  const notify = async (body: object) => {
    const res = await fetch(`${heraldUrl}/api/notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(res.status, 202);
    return (await res.json()) as { id: string };
  };

  it("personal chat: install → welcome → trigger → the card arrives", async () => {
    const chat = config.personalChat.id;
    await playground.install(chat);
    const welcome = await playground.waitForMessage((m) => m.conversationId === chat && /I'm Herald/.test(cardText(m)), "the welcome in the personal chat");
    assert.match(cardText(welcome), /installed in your personal chat/);

    await notify({ title: "Playground check", text: "Delivered through the Bot Connector" });
    const card = await playground.waitForMessage((m) => m.conversationId === chat && /Playground check/.test(cardText(m)), "the notification card");
    assert.equal(card.attachments?.[0].contentType, "application/vnd.microsoft.card.adaptive");
    assert.match(cardText(card), /Delivered through the Bot Connector/);
    assert.match(cardText(card), /Stop these/);
  });

  it("group chat and team: installs are welcomed and a broadcast reaches both", async () => {
    const group = config.groupChats[0].id;
    const team = config.teams[0];
    await playground.install(group);
    await playground.waitForMessage((m) => m.conversationId === group && /I'm Herald/.test(cardText(m)), "the group chat welcome");
    await playground.install(team.id);
    await playground.waitForMessage((m) => m.conversationId.startsWith(team.id) && /I'm Herald/.test(cardText(m)), "the team welcome");

    const targets = await herald.store.targets.count({ status: "active" });
    assert.equal(targets, 3, "personal chat, group chat and team are registered");

    await notify({ title: "Everyone check", text: "to all installations" });
    await playground.waitForMessage((m) => m.conversationId === group && /Everyone check/.test(cardText(m)), "the card in the group chat");
    await playground.waitForMessage((m) => m.conversationId.startsWith(team.id) && /Everyone check/.test(cardText(m)), "the card in the team");
    await playground.waitForMessage((m) => m.conversationId === config.personalChat.id && /Everyone check/.test(cardText(m)), "the card in the personal chat");
  });

  it("the person can say stop, and the next broadcast skips them and says so", async () => {
    const chat = config.personalChat.id;
    await playground.say(chat, config.currentUser.id, "stop");
    await playground.waitForMessage((m) => m.conversationId === chat && /won't get any notification/.test(cardText(m)), "the stop confirmation");
    const { id } = await notify({ title: "After stop", text: "should skip the personal chat", audience: { kind: "installations", types: ["personal"] } });
    const deadline = Date.now() + 15_000;
    let report: any;
    while (Date.now() < deadline) {
      report = await (await fetch(`${heraldUrl}/api/notifications/${id}`)).json();
      if (report.status === "completed") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(report.status, "completed");
    assert.equal(report.counts.skipped, 1);
    assert.equal(report.counts.sent, 0);
  });
});
