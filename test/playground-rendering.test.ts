import { strict as assert } from "node:assert";
import type { Browser, Page } from "playwright-core";
import { createHerald, type Herald } from "../src/app";
import { loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";
import { MemoryStore } from "../src/store/memory";
import { launchChromium } from "./support/chromium";
import { Playground, type PlaygroundConfig } from "./support/playground";

/**
 * What a person reads in Microsoft 365 Agents Playground: its web UI (in headless Chromium) renders the welcome
 * card, the `status` reply and the help card as Teams would. Placeholders written as markup (`<topic>`) vanish
 * there — the card read `or "stop " for one topic` — so these tests read the rendered text, not the JSON.
 */
describe("what Agents Playground shows: the topic placeholder in the welcome, status and help", function () {
  this.timeout(120_000);
  let herald: Herald;
  let playground: Playground;
  let config: PlaygroundConfig;
  let browser: Browser;
  let page: Page;

  const visibleText = () => page.evaluate(() => document.body.innerText);
  const waitForText = (text: string) => page.waitForFunction((t) => document.body.innerText.includes(t), text, { timeout: 30_000 });

  before(async () => {
    herald = await createHerald(loadConfig({ PORT: "0", HERALD_STORE: "memory" }), silentLogger(), { store: new MemoryStore() });
    const heraldUrl = await herald.start();
    playground = await Playground.start(`${heraldUrl}/api/messages`);
    config = await playground.config();
    browser = await launchChromium();
    page = await browser.newPage();
    // Opening the UI installs the app in the personal chat: the welcome card arrives and is rendered.
    await page.goto(playground.url);
    await waitForText("Hi, I'm Herald");
  });
  after(async () => {
    await browser?.close();
    await playground?.stop();
    await herald?.stop();
  });

  it("the welcome card shows the placeholder in “stop <topic>”", async () => {
    const text = await visibleText();
    assert.match(text, /stop all notifications from me \(or "stop topic" for one topic\)/);
    assert.doesNotMatch(text, /"stop "/, "nothing swallowed");
  });

  it("the status reply shows it", async () => {
    await playground.say(config.personalChat.id, config.currentUser.id, "status");
    await waitForText("You get every notification Herald sends here");
    assert.match(await visibleText(), /Say “stop” to stop them, or “stop topic” for one topic\./);
  });

  it("the help card shows it for stop and start", async () => {
    await playground.say(config.personalChat.id, config.currentUser.id, "help");
    await waitForText("Herald — help");
    const help = (await visibleText()).slice((await visibleText()).lastIndexOf("Herald — help"));
    const lines = help.split("\n").map((l) => l.trim()).filter(Boolean);
    assert.ok(lines.includes("stop topic"), lines.join(" | "));
    assert.ok(lines.includes("start topic"), lines.join(" | "));
  });
});
