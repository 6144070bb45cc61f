/**
 * The Herald tab in a real browser: headless Chromium (Debian's package, driven by playwright-core) opens a test
 * Teams host page that frames /tab/ and answers teams-js (initialize, getContext, getAuthToken with tokens
 * signed by a test key whose JWKS Herald is pointed at). Herald runs in-process against the connector emulator.
 */
import { strict as assert } from "node:assert";
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import type { SeededUser } from "../../src/emulator/types";
import { launchChromium } from "../support/browser";
import { activityText, eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";
import { fetchAsTab, openTab, seriousAxeViolations, type OpenOptions, type TabSession } from "../support/tab-session";
import { TeamsHost } from "../support/teams-host";
import { TEST_CLIENT_ID, TEST_DOMAIN, TestEntra } from "../support/test-entra";

const TENANT = "tenant-tab";
const SCREENSHOTS = path.resolve(__dirname, "..", "..", "test-results", "tab");
const SENDER_ROLES = ["Herald.Sender"];

describe("the Herald tab in Chromium, framed by a Teams host page, signed in with SSO", function () {
  this.timeout(90_000);
  let entra: TestEntra;
  let fx: HeraldFixture;
  let host: TeamsHost;
  let browser: Browser;
  let sender: SeededUser;
  let member: SeededUser;
  let colleague: SeededUser;
  let outsider: SeededUser;
  const sessions: TabSession[] = [];
  let n = 0;
  const unique = (what: string) => `${what} ${++n}-${Date.now() % 100000}`;

  const open = async (who: SeededUser, options: OpenOptions = {}) => {
    const session = await openTab(browser, host, entra, fx.url, who, options);
    sessions.push(session);
    return session;
  };
  const api = (method: string, p: string, body?: unknown) => fx.api(method, p, body);
  const finished = (id: string) => eventually(async () => {
    const r = await api("GET", `/api/notifications/${id}`);
    return ["completed", "failed", "cancelled"].includes(r.body.status) ? r.body : undefined;
  }, `notification ${id} to finish`, 30_000);
  const deliveries = async (id: string) => (await api("GET", `/api/notifications/${id}/deliveries?limit=1000`)).body.items as any[];
  const received = (user: SeededUser, title: string) => fx.emulator.delivered(user.personalConversationId).filter((d) => activityText(d.activity).includes(title));
  const team = () => fx.tenant.teams[0];
  const teamMembers = () => team().memberIds.map((id) => fx.tenant.users.find((u) => u.id === id)!);

  before(async function () {
    this.timeout(120_000);
    mkdirSync(SCREENSHOTS, { recursive: true });
    entra = await TestEntra.start();
    fx = await startHerald({
      env: { AAD_APP_CLIENT_ID: TEST_CLIENT_ID, BOT_DOMAIN: TEST_DOMAIN, HERALD_ENTRA_METADATA_URL: entra.metadataUrl, HERALD_ALLOWED_TENANTS: TENANT },
      tenant: { tenantId: TENANT, users: 12, teams: [{ name: "Operations", memberCount: 8, channels: 2 }], groupChats: [{ memberCount: 3, topic: "Release crew" }] },
      // A held delivery (429 forever) keeps its job running until the test lets it go.
      overrides: { engine: { maxThrottleRetries: 1000 } },
    });
    [sender, member, colleague] = fx.tenant.users;
    outsider = fx.tenant.users[10]!;
    for (const user of fx.tenant.users) await fx.driver.installPersonal(user);
    await fx.driver.installTeam(team(), sender);
    await fx.driver.installGroupChat(fx.tenant.groupChats[0]!, sender);
    await fx.rostersSynced();
    host = await TeamsHost.start();
    browser = await launchChromium();
  });

  afterEach(async () => {
    fx.emulator.clearFaults();
    for (const session of sessions.splice(0)) await session.close();
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
    await fx?.stop();
    await entra?.stop();
  });

  it("shows a person what they received — in their chat, a group chat, a channel — with the card's link", async () => {
    const title = unique("Build failed");
    const direct = await api("POST", "/api/notifications", { title, text: "main is red", url: "https://ci.example.com/1043", category: "builds", audience: { kind: "teamMembers", teamId: team().id } });
    const chat = await api("POST", "/api/notifications", { title: `${title} (chat)`, text: "x", audience: { kind: "installations", types: ["groupChat"] } });
    const channel = await api("POST", "/api/notifications", { title: `${title} (channel)`, text: "x", audience: { kind: "channelThread", teamId: team().id } });
    for (const r of [direct, chat, channel]) assert.equal((await finished(r.body.id)).status, "completed");
    await fx.herald.inbox.idle();

    const session = await open(member);
    const inbox = session.tab.getByTestId("inbox");
    await inbox.getByText(title, { exact: true }).waitFor();
    const item = (t: string) => inbox.locator("li", { has: session.tab.getByText(t, { exact: true }) });
    assert.match(await item(title).innerText(), /Your chat with Herald/);
    // Teams does not tell bots a group chat's topic on install: the place is named when Herald knows a name.
    assert.match(await item(`${title} (chat)`).innerText(), /A group chat|Group chat “/);
    assert.match(await item(`${title} (channel)`).innerText(), /Team Operations/);
    assert.equal(await item(title).getByRole("link", { name: `Open ${title}` }).getAttribute("href"), "https://ci.example.com/1043");

    // Someone outside the team and the chat received none of them.
    const other = await open(outsider);
    await other.tab.getByText("Notifications you received").waitFor();
    await other.tab.getByText(/Nothing yet|Received notifications/).first().waitFor();
    assert.equal(await other.tab.getByText(title).count(), 0);
    assert.deepEqual(await session.cspViolations(), []);
  });

  it("switching a category off skips that person from the next notification on, reaches everyone else, and chat agrees", async () => {
    const category = `incidents-${++n}`;
    const first = await api("POST", "/api/notifications", { title: unique("Incident"), text: "db slow", category, audience: { kind: "teamMembers", teamId: team().id } });
    await finished(first.body.id);
    await fx.herald.inbox.idle();

    const session = await open(member);
    const toggle = session.tab.getByRole("switch", { name: category });
    await toggle.waitFor();
    assert.equal(await toggle.isChecked(), true);
    await toggle.click();
    await session.tab.getByText(`You won't get “${category}” any more.`).waitFor();
    assert.equal(await toggle.isChecked(), false);

    const title = unique("Incident again");
    const next = await api("POST", "/api/notifications", { title, text: "db slow again", category, audience: { kind: "teamMembers", teamId: team().id } });
    const report = await finished(next.body.id);
    assert.equal(report.counts.skipped, 1);
    assert.equal(report.counts.sent, teamMembers().length - 1);
    const skipped = (await deliveries(next.body.id)).find((d) => d.status === "skipped");
    assert.equal(skipped.reason, "opted out");
    assert.equal(received(member, title).length, 0, "the person who switched it off got nothing");
    for (const other of teamMembers().filter((u) => u.id !== member.id)) assert.equal(received(other, title).length, 1, `${other.name} got it`);

    // The same preference in chat: "status" lists it, and "start <category>" there turns the switch back on.
    await fx.driver.message(member, member, "status");
    assert.match(activityText(fx.emulator.delivered(member.personalConversationId).at(-1)!.activity), new RegExp(`Stopped: “${category}”`));
    await fx.driver.message(member, member, `start ${category}`);
    await session.page.reload();
    const again = session.tab.getByRole("switch", { name: category });
    await again.waitFor();
    assert.equal(await again.isChecked(), true);
  });

  it("the dashboard shows a broadcast progressing to completed with the right counts, without a reload", async () => {
    const session = await open(sender, { roles: SENDER_ROLES });
    await session.tab.getByRole("tab", { name: "Dashboard" }).click();
    await session.tab.getByText("Recent notifications").waitFor();
    const frame = await session.frame();
    await frame.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });

    // One recipient is throttled until the test lets go, so the job is seen running part-way.
    const held = teamMembers()[3]!;
    fx.emulator.addFault({ match: { route: "send", conversationId: held.personalConversationId }, status: 429, retryAfterSeconds: 1 });
    const title = unique("Benefits enrolment");
    const created = await api("POST", "/api/notifications", { title, text: "open until Friday", audience: { kind: "teamMembers", teamId: team().id } });
    const total = teamMembers().length;
    const row = session.tab.locator(`tr[data-notification="${created.body.id}"]`);
    await row.and(session.tab.locator('[data-status="running"]')).waitFor({ timeout: 30_000 });
    await row.getByTestId("counts").getByText(`${total - 1} sent of ${total}`).waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /\d+(\.\d)?\/s/, "a rate is shown while it runs");

    fx.emulator.clearFaults();
    await row.and(session.tab.locator('[data-status="completed"]')).waitFor({ timeout: 30_000 });
    assert.match(await row.getByTestId("counts").innerText(), new RegExp(`^${total} sent of ${total}$`));
    await row.getByRole("button", { name: title }).click();
    const detail = session.tab.getByTestId("detail");
    assert.equal(await detail.locator('[data-count="sent"]').innerText(), String(total));
    assert.equal(await detail.locator('[data-count="throttled (429)"]').innerText() !== "0", true, "the 429s are counted");
    assert.equal(await frame.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, "the page was never reloaded");
  });

  it("compose and send to a team's members from the tab: the live preview is the bot's card, and the deliveries appear", async () => {
    const session = await open(sender, { roles: SENDER_ROLES });
    await session.tab.getByRole("tab", { name: "Dashboard" }).click();
    await session.tab.getByRole("button", { name: "New notification" }).click();
    await session.tab.getByRole("radio", { name: /Every member of a team/ }).check();
    await session.tab.getByRole("combobox", { name: "Team" }).click();
    await session.tab.getByRole("option", { name: "Operations" }).click();
    const title = unique("Town hall");
    await session.tab.getByRole("textbox", { name: "Title" }).fill(title);
    await session.tab.getByRole("textbox", { name: "Text" }).fill("Thursday 15:00 in the atrium.");
    await session.tab.getByRole("textbox", { name: "Category" }).fill("events");

    const preview = session.tab.getByTestId("card-preview");
    await preview.getByText(title, { exact: true }).waitFor();
    await preview.getByText(/You get this because you are a member of the team Operations/).waitFor();
    await preview.getByRole("button", { name: "Stop these" }).waitFor();
    await preview.getByText(new RegExp(`Sent by ${sender.name} \\(Herald tab\\)`)).waitFor();

    await session.tab.getByRole("button", { name: "Send" }).click();
    const detail = session.tab.getByTestId("detail");
    await detail.getByText(title).waitFor();
    const report = detail.getByTestId("report");
    await eventually(async () => (await report.locator('tr[data-status="sent"]').count()) === teamMembers().length, "every member's delivery shown as sent", 30_000);
    for (const user of teamMembers()) assert.equal(received(user, title).length, 1, `${user.name} got it in their chat`);
    const job = (await api("GET", "/api/notifications?limit=20")).body.items.find((j: any) => j.title === title);
    assert.equal(job.triggeredBy, `${sender.name} (Herald tab)`);
    assert.equal(job.category, "events");
    assert.deepEqual(job.audience, { kind: "teamMembers", teamId: team().id, tenantId: TENANT });
    // The card the members got is the one the preview showed.
    assert.match(activityText(received(teamMembers()[5]!, title)[0]!.activity), /member of the team Operations/);
  });

  it("compose to chosen people found by searching the member directory: only they get it", async () => {
    const chosen = [fx.tenant.users[4]!, outsider];
    const session = await open(sender, { roles: SENDER_ROLES });
    await session.tab.getByRole("tab", { name: "Dashboard" }).click();
    await session.tab.getByRole("button", { name: "New notification" }).click();
    await session.tab.getByRole("radio", { name: "Chosen people" }).check();
    for (const person of chosen) {
      // Part of the surname and the number in the name: two words, each the start of one of the person's words.
      await session.tab.getByRole("searchbox", { name: "Find people" }).fill(`${person.surname.slice(0, 4)} ${person.name.split(" ").at(-1)}`);
      await session.tab.getByRole("button", { name: `Add ${person.name}` }).click();
    }
    await session.tab.getByRole("group", { name: "Chosen people" }).or(session.tab.getByLabel("Chosen people")).getByText(outsider.name).waitFor();
    const title = unique("Your laptop is ready");
    await session.tab.getByRole("textbox", { name: "Title" }).fill(title);
    await session.tab.getByRole("textbox", { name: "Text" }).fill("Pick it up at the IT desk.");
    await session.tab.getByTestId("card-preview").getByText(/You get this because you were chosen/).waitFor();
    await session.tab.getByRole("button", { name: "Send" }).click();
    await session.tab.getByTestId("detail").getByText(title).waitFor();
    const job = (await api("GET", "/api/notifications?limit=50")).body.items.find((j: any) => j.title === title);
    assert.equal((await finished(job.id)).counts.sent, 2);
    for (const user of fx.tenant.users) assert.equal(received(user, title).length, chosen.includes(user) ? 1 : 0, user.name);
  });

  it("cancel from the dashboard stops what has not been sent", async () => {
    fx.emulator.addFault({ match: { route: "send", tenantId: TENANT }, status: 429, retryAfterSeconds: 2 });
    const title = unique("Wrong audience");
    const created = await api("POST", "/api/notifications", { title, text: "oops", audience: { kind: "teamMembers", teamId: team().id } });
    const session = await open(sender, { roles: SENDER_ROLES });
    await session.tab.getByRole("tab", { name: "Dashboard" }).click();
    const row = session.tab.locator(`tr[data-notification="${created.body.id}"]`);
    await row.getByRole("button", { name: title }).click();
    await session.tab.getByTestId("detail").getByRole("button", { name: "Cancel sending" }).click();
    await session.tab.getByRole("dialog").getByRole("button", { name: "Cancel sending" }).click();
    await row.and(session.tab.locator('[data-status="cancelled"]')).waitFor({ timeout: 30_000 });

    fx.emulator.clearFaults();
    const report = await finished(created.body.id);
    assert.equal(report.status, "cancelled");
    assert.ok(report.counts.cancelled > 0);
    await new Promise((r) => setTimeout(r, 2500)); // past the Retry-After: nothing wakes up and sends
    for (const user of teamMembers()) assert.equal(received(user, title).length, 0);
    const detail = session.tab.getByTestId("detail");
    await detail.getByRole("combobox", { name: "Status" }).click();
    await session.tab.getByRole("option", { name: "cancelled" }).click();
    await eventually(async () => (await detail.getByTestId("report").locator('tr[data-status="cancelled"]').count()) === report.counts.cancelled, "the cancelled recipients listed");
  });

  it("the report filters recipients by status and by reason", async () => {
    await fx.driver.message(colleague, colleague, "stop filters");
    const gone = teamMembers()[6]!;
    fx.emulator.addFault({ match: { route: "send", conversationId: gone.personalConversationId }, status: 403, code: "ConversationBlockedByUser" });
    const title = unique("Filters");
    const created = await api("POST", "/api/notifications", { title, text: "x", category: "filters", audience: { kind: "teamMembers", teamId: team().id } });
    await finished(created.body.id);
    const session = await open(sender, { roles: SENDER_ROLES });
    await session.tab.getByRole("tab", { name: "Dashboard" }).click();
    await session.tab.locator(`tr[data-notification="${created.body.id}"]`).getByRole("button", { name: title }).click();
    const detail = session.tab.getByTestId("detail");
    const rows = detail.getByTestId("report").locator("tbody tr");
    await eventually(async () => (await rows.count()) === teamMembers().length, "all recipients listed");

    await detail.getByRole("combobox", { name: "Status" }).click();
    await session.tab.getByRole("option", { name: "skipped" }).click();
    await eventually(async () => (await rows.count()) === 1, "one skipped");
    assert.match(await rows.first().innerText(), new RegExp(`${colleague.name}[\\s\\S]*skipped[\\s\\S]*opted out`));

    await detail.getByRole("combobox", { name: "Status" }).click();
    await session.tab.getByRole("option", { name: "Any status" }).click();
    await detail.getByLabel("Reason contains").fill("Blocked");
    await eventually(async () => (await rows.count()) === 1 && /gone/.test(await rows.first().innerText()), "one gone, by reason");
    assert.match(await rows.first().innerText(), new RegExp(gone.name));
  });

  it("a person who is not a sender gets no dashboard, and the senders' API answers 403", async () => {
    const session = await open(member);
    await session.tab.getByText("Notifications you received").waitFor();
    assert.equal(await session.tab.getByRole("tab", { name: "Dashboard" }).count(), 0);
    const frame = await session.frame();
    for (const [method, p] of [["GET", "/tab/api/notifications"], ["POST", "/tab/api/notifications"], ["GET", "/tab/api/directory/people?q=ad"]] as const) {
      const res = await fetchAsTab(frame, p, { method, token: session.token, ...(method === "POST" ? { body: { title: "x", text: "y" } } : {}) });
      assert.equal(res.status, 403, `${method} ${p}`);
      assert.equal(res.body.error.code, "forbidden");
      assert.match(res.body.error.message, /Herald\.Sender|HERALD_SENDERS/);
    }
    // HERALD_SENDERS is the other way to be one: not configured here, so the role is what counts.
    assert.equal((await fetchAsTab(frame, "/tab/api/me", { token: session.token })).body.isSender, false);
  });

  it("a forged or expired token gets 401 and the tab says so", async () => {
    const forged = await entra.sign({ oid: sender.aadObjectId, tid: TENANT, scp: "access_as_user", roles: SENDER_ROLES }, { unpublishedKey: true, kid: "test-key-1" });
    const expired = await entra.sign({ oid: sender.aadObjectId, tid: TENANT, scp: "access_as_user", roles: SENDER_ROLES }, { expiresIn: -600 });
    for (const [token, reason] of [[forged, "bad_signature"], [expired, "expired"]] as const) {
      const session = await open(sender, { token });
      await session.tab.getByText(new RegExp(`the sign-in token was rejected \\(${reason}\\)`)).waitFor();
      assert.equal(await session.tab.getByRole("tab", { name: "Dashboard" }).count(), 0);
      const res = await fetchAsTab(await session.frame(), "/tab/api/notifications", { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, "invalid_token");
      assert.ok(!JSON.stringify(res.body).includes(token.split(".")[2]!), "the answer does not echo the token");
    }
  });

  it("follows the Teams theme: from the context at start, then through the theme-change handler", async () => {
    const session = await open(member, { theme: "dark" });
    await session.tab.getByText("Notifications you received").waitFor();
    const frame = await session.frame();
    const background = () => frame.evaluate(() => getComputedStyle(document.querySelector("#root > div > div")!).backgroundColor);
    assert.equal(await frame.evaluate(() => document.documentElement.dataset.theme), "dark");
    const dark = await background();
    await session.page.evaluate(() => (window as unknown as { changeTheme(t: string): void }).changeTheme("default"));
    await eventually(async () => (await frame.evaluate(() => document.documentElement.dataset.theme)) === "default", "the light theme");
    assert.notEqual(await background(), dark);
    await session.page.evaluate(() => (window as unknown as { changeTheme(t: string): void }).changeTheme("contrast"));
    await eventually(async () => (await frame.evaluate(() => document.documentElement.dataset.theme)) === "contrast", "high contrast");
    assert.equal(await background(), "rgb(0, 0, 0)");
  });

  it("is keyboard-navigable: the dashboard and the composer without a mouse", async () => {
    const session = await open(sender, { roles: SENDER_ROLES });
    const first = session.tab.getByRole("tab", { name: "My notifications" });
    await first.waitFor();
    await first.focus();
    await session.page.keyboard.press("ArrowRight");
    await session.page.keyboard.press("Enter");
    await session.tab.getByText("Recent notifications").waitFor();
    await session.page.keyboard.press("Tab");
    assert.equal(await session.tab.getByRole("button", { name: "New notification" }).evaluate((el) => el === document.activeElement), true);
    await session.page.keyboard.press("Enter");
    await session.tab.getByRole("heading", { name: "New notification" }).waitFor();
    await session.page.keyboard.press("Tab");
    await session.page.keyboard.press("ArrowDown");
    assert.equal(await session.tab.getByRole("radio", { name: "Installations of some kinds" }).isChecked(), true);
    await session.tab.getByRole("group", { name: "Installation kinds" }).waitFor();
  });

  for (const theme of ["default", "dark", "contrast"] as const) {
    const light = theme === "default" ? "light" : theme;
    it(`has no serious or critical axe-core violations on both pages (${light}), and writes their screenshots`, async () => {
      const sent = await api("POST", "/api/notifications", {
        title: unique("Quarterly results"), text: "Revenue up 12%.", url: "https://intranet.example.com/q3", category: "company-news",
        audience: { kind: "teamMembers", teamId: team().id },
      });
      await finished(sent.body.id);
      await fx.herald.inbox.idle();
      const session = await open(sender, { roles: SENDER_ROLES, theme, viewport: { width: 1366, height: 900 } });
      const frame = await session.frame();
      await session.tab.getByTestId("inbox").waitFor();
      assert.deepEqual(await seriousAxeViolations(frame), [], "My notifications");
      await session.page.screenshot({ path: path.join(SCREENSHOTS, `my-notifications-${light}.png`) });

      await session.tab.getByRole("tab", { name: "Dashboard" }).click();
      await session.tab.getByTestId("notifications").locator("tbody tr").first().getByRole("button").click();
      await session.tab.getByTestId("report").waitFor();
      assert.deepEqual(await seriousAxeViolations(frame), [], "Dashboard");
      await session.page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${light}.png`) });

      await session.tab.getByRole("button", { name: "New notification" }).click();
      await session.tab.getByRole("textbox", { name: "Title" }).fill("Maintenance tonight");
      await session.tab.getByRole("textbox", { name: "Text" }).fill("22:00–23:00 UTC: Herald's API is read-only.");
      await session.tab.getByTestId("card-preview").getByText("Maintenance tonight").waitFor();
      assert.deepEqual(await seriousAxeViolations(frame), [], "Composer");
      await session.page.screenshot({ path: path.join(SCREENSHOTS, `compose-${light}.png`) });
      assert.deepEqual(await session.cspViolations(), [], "no CSP violation on any page");
    });
  }
});
