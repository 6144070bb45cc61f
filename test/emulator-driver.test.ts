import { strict as assert } from "node:assert";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ActivityDriver, DEFAULT_BOT_ID } from "../src/emulator/activity-driver";
import { seedTenant } from "../src/emulator/seed";
import { localTimestamp } from "../src/emulator/teams-activities";

const SERVICE_URL = "http://127.0.0.1:1/emulator";
const tenant = seedTenant({
  tenantId: "tenant-d", users: 6,
  teams: [{ name: "Operations", memberCount: 5, channels: 2 }],
  groupChats: [{ memberCount: 3, topic: "Crew" }],
});
const [alice, bob] = tenant.users;
const team = tenant.teams[0];
const chat = tenant.groupChats[0];

/** A tiny bot endpoint that records what the driver posts. */
describe("activity driver", () => {
  let server: http.Server;
  let received: any[];
  let status: number;
  let hold: ((release: () => void) => void) | undefined;
  let driver: ActivityDriver;
  const at = Date.UTC(2026, 0, 15, 8, 30, 0, 250);

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, path: req.url, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        // No chaining: restify (loaded by other test files) patches ServerResponse.writeHead to return nothing.
        const respond = () => { res.writeHead(status); res.end(); };
        if (hold) hold(respond);
        else respond();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  });
  after(async () => {
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    received = [];
    status = 200;
    hold = undefined;
    const port = (server.address() as AddressInfo).port;
    driver = new ActivityDriver({ botEndpoint: `http://127.0.0.1:${port}/api/messages`, serviceUrl: SERVICE_URL, now: () => at });
  });
  afterEach(() => driver.close());

  const bodies = () => received.map((r) => r.body);

  function assertEnvelope(a: any, type: string) {
    assert.equal(a.type, type);
    assert.equal(a.channelId, "msteams");
    assert.equal(a.serviceUrl, SERVICE_URL);
    assert.deepEqual(a.recipient, { id: `28:${DEFAULT_BOT_ID}`, name: "Herald" });
    assert.equal(a.timestamp, new Date(at).toISOString());
    assert.ok(typeof a.id === "string" && a.id.length > 0);
    assert.ok(a.conversation.tenantId);
    assert.equal(a.channelData.tenant.id, a.conversation.tenantId);
  }

  it("installPersonal posts installationUpdate add and conversationUpdate with the bot added, in the 1:1", async () => {
    assert.equal(await driver.installPersonal(alice), 200);
    const [install, update] = bodies();
    assertEnvelope(install, "installationUpdate");
    assert.equal(install.action, "add");
    assert.deepEqual(install.from, { id: alice.id, name: alice.name, aadObjectId: alice.aadObjectId });
    assert.deepEqual(install.conversation, { conversationType: "personal", tenantId: tenant.tenantId, id: alice.personalConversationId });
    assert.equal(install.entities[0].type, "clientInfo");
    assert.equal(install.entities[0].timezone, alice.timeZone);
    assertEnvelope(update, "conversationUpdate");
    assert.deepEqual(update.membersAdded, [{ id: `28:${DEFAULT_BOT_ID}` }]);
    assert.equal(received[0].path, "/api/messages");
    assert.equal(received[0].headers["content-type"], "application/json; charset=utf-8");
    assert.equal(received[0].headers.authorization, undefined);
  });

  it("installTeam posts both activities in the General channel with team channelData", async () => {
    assert.equal(await driver.installTeam(team, bob), 200);
    const [install, update] = bodies();
    for (const a of [install, update]) {
      assert.deepEqual(a.conversation, { isGroup: true, conversationType: "channel", tenantId: tenant.tenantId, id: team.id });
      assert.deepEqual(a.channelData.team, { id: team.id, name: "Operations", aadGroupId: team.aadGroupId });
      assert.deepEqual(a.channelData.channel, { id: team.id });
      assert.equal(a.from.id, bob.id);
    }
    assert.equal(install.action, "add");
    assert.deepEqual(install.channelData.settings, { selectedChannel: { id: team.id } });
    assert.equal(update.channelData.eventType, "teamMemberAdded");
    assert.deepEqual(update.membersAdded, [{ id: `28:${DEFAULT_BOT_ID}` }]);
  });

  it("uninstall, teamDeleted, group chat install and roster changes", async () => {
    await driver.uninstallTeam(team, bob);
    await driver.teamDeleted(team, bob);
    await driver.installGroupChat(chat, alice);
    await driver.membersAdded(team, [alice, bob]);
    await driver.membersRemoved(chat, [bob]);
    await driver.uninstallPersonal(alice);
    const b = bodies();
    assert.equal(b[0].action, "remove");
    assert.deepEqual(b[1].membersRemoved, [{ id: `28:${DEFAULT_BOT_ID}` }]);
    assert.equal(b[1].channelData.eventType, "teamMemberRemoved");
    assert.equal(b[2].type, "conversationUpdate");
    assert.equal(b[2].channelData.eventType, "teamDeleted");
    assert.equal(b[2].channelData.team.id, team.id);
    assert.deepEqual(b[3].conversation, { isGroup: true, conversationType: "groupChat", tenantId: tenant.tenantId, id: chat.id });
    assert.equal(b[3].action, "add");
    assert.deepEqual(b[5].membersAdded, [{ id: alice.id, aadObjectId: alice.aadObjectId }, { id: bob.id, aadObjectId: bob.aadObjectId }]);
    assert.equal(b[5].channelData.eventType, "teamMemberAdded");
    assert.deepEqual(b[6].membersRemoved, [{ id: bob.id, aadObjectId: bob.aadObjectId }]);
    assert.equal(b[6].channelData.eventType, undefined, "group chats carry no team eventType");
    assert.equal(b[7].type, "installationUpdate");
    assert.equal(b[7].action, "remove");
    assert.equal(b.length, 9);
  });

  it("message carries localTimezone, localTimestamp with the zone's offset, clientInfo; mentions the bot outside 1:1", async () => {
    await driver.message(alice, alice, "help");
    await driver.message(alice, alice, "help", { timeZone: "America/New_York" });
    await driver.message({ team, channelId: team.channels[1].id }, bob, "status");
    const [personal, ny, channel] = bodies();
    assertEnvelope(personal, "message");
    assert.equal(personal.text, "help");
    assert.equal(personal.textFormat, "plain");
    assert.equal(personal.localTimezone, "Europe/Berlin");
    assert.equal(personal.localTimestamp, "2026-01-15T09:30:00.250+01:00");
    assert.deepEqual(personal.entities, [{ type: "clientInfo", locale: "de-DE", country: "DE", platform: "Windows", timezone: "Europe/Berlin" }]);
    assert.match(personal.id, /^\d{13}$/);
    assert.equal(ny.localTimestamp, "2026-01-15T03:30:00.250-05:00");
    assert.equal(ny.entities[0].timezone, "America/New_York");
    assert.notEqual(ny.id, personal.id);

    assert.equal(channel.conversation.id, team.channels[1].id);
    assert.equal(channel.conversation.conversationType, "channel");
    assert.equal(channel.channelData.channel.id, team.channels[1].id);
    assert.equal(channel.text, "<at>Herald</at> status");
    assert.deepEqual(channel.entities[1], { type: "mention", mentioned: { id: `28:${DEFAULT_BOT_ID}`, name: "Herald" }, text: "<at>Herald</at>" });
  });

  it("cardAction is a message with value and no text", async () => {
    await driver.cardAction(chat, bob, { action: "optOut", category: "digest" }, { replyToId: "1700000000001" });
    const [a] = bodies();
    assertEnvelope(a, "message");
    assert.equal(a.text, undefined);
    assert.deepEqual(a.value, { action: "optOut", category: "digest" });
    assert.equal(a.replyToId, "1700000000001");
    assert.equal(a.conversation.conversationType, "groupChat");
  });

  it("returns the endpoint's status; send() fills the envelope; Authorization when configured", async () => {
    status = 500;
    assert.equal(await driver.installPersonal(alice), 500);
    assert.equal(received.length, 1, "stops at the first failure");
    status = 202;
    const port = (server.address() as AddressInfo).port;
    const authed = new ActivityDriver({ botEndpoint: `http://127.0.0.1:${port}/api/messages`, serviceUrl: SERVICE_URL, authorization: "Bearer t" });
    try {
      assert.equal(await authed.send({ type: "typing", conversation: { id: "x", tenantId: "t" } }), 202);
    } finally {
      authed.close();
    }
    const last = received[received.length - 1];
    assert.equal(last.headers.authorization, "Bearer t");
    assert.equal(last.body.channelId, "msteams");
    assert.equal(last.body.serviceUrl, SERVICE_URL);
    assert.equal(last.body.type, "typing");
  });

  it("sendMany keeps at most `concurrency` requests in flight and returns statuses in order", async () => {
    let pending: Array<() => void> = [];
    let maxPending = 0;
    // Release in batches of 4: if the driver allowed fewer in flight this would never release.
    hold = (release) => {
      pending.push(release);
      maxPending = Math.max(maxPending, pending.length);
      if (pending.length === 4) {
        const batch = pending;
        pending = [];
        batch.forEach((r) => r());
      }
    };
    const activities = Array.from({ length: 20 }, (_, i) => driver.buildMessage(alice, alice, `m${i}`));
    const statuses = await driver.sendMany(activities, 4);
    assert.deepEqual(statuses, new Array(20).fill(200));
    assert.equal(maxPending, 4);
    assert.deepEqual(bodies().map((b) => b.text).sort(), activities.map((a) => a.text).sort());
  });

  it("localTimestamp handles half-hour zones and DST", () => {
    assert.equal(localTimestamp(new Date(Date.UTC(2026, 6, 1, 12, 0, 0)), "Asia/Kolkata"), "2026-07-01T17:30:00.000+05:30");
    assert.equal(localTimestamp(new Date(Date.UTC(2026, 6, 1, 12, 0, 0)), "Europe/Berlin"), "2026-07-01T14:00:00.000+02:00");
  });
});
