import { strict as assert } from "node:assert";
import sinon from "sinon";
import { targetKey } from "../src/store/types";
import { activityText, eventually, startHerald, type HeraldFixture } from "./support/herald-fixture";

describe("bot: install capture, welcome and commands (through the connector emulator)", () => {
  let fx: HeraldFixture;

  beforeEach(async () => {
    fx = await startHerald();
  });
  afterEach(async () => {
    sinon.restore();
    await fx.stop();
  });

  const posted = (conversationId: string) => fx.emulator.delivered(conversationId).map((d) => activityText(d.activity));

  it("captures a personal install with the user's ids and sends a welcome that says why", async () => {
    const user = fx.tenant.users[0];
    assert.equal(await fx.driver.installPersonal(user), 200);

    const key = targetKey(fx.tenant.tenantId, user.personalConversationId);
    const target = await fx.store.targets.get(key);
    assert.ok(target, "personal target stored");
    assert.equal(target.kind, "personal");
    assert.equal(target.userId, user.id);
    assert.equal(target.aadObjectId, user.aadObjectId);
    assert.equal(target.serviceUrl.replace(/\/$/, ""), fx.serviceUrl);
    assert.equal(target.status, "active");

    const member = await fx.store.members.find({ aadObjectId: user.aadObjectId }, fx.tenant.tenantId);
    assert.equal(member?.personalConversationId, user.personalConversationId);

    const welcome = posted(user.personalConversationId);
    assert.equal(welcome.length, 1, "exactly one welcome");
    assert.match(welcome[0], /installed in your personal chat/);
    assert.match(welcome[0], /What I do/);
    assert.match(welcome[0], /stop/);
  });

  it("captures a group chat install, says who added Herald, and records the chat's members", async () => {
    const chat = fx.tenant.groupChats[0];
    const by = fx.tenant.users.find((u) => u.id === chat.memberIds[0])!;
    assert.equal(await fx.driver.installGroupChat(chat, by), 200);

    const target = await fx.store.targets.get(targetKey(fx.tenant.tenantId, chat.id));
    assert.equal(target?.kind, "groupChat");
    assert.equal(target?.installedBy, by.name);
    const welcome = posted(chat.id);
    assert.equal(welcome.length, 1);
    assert.match(welcome[0], new RegExp(`${by.name} added Herald to this group chat`));
    await fx.rostersSynced();
    assert.equal(await fx.store.members.countBySource(target!.key), chat.memberIds.length);
  });

  it("captures a team install once, welcomes once in the General channel, and fills the member directory", async () => {
    const team = fx.tenant.teams[0];
    const by = fx.tenant.users.find((u) => u.id === team.memberIds[0])!;
    assert.equal(await fx.driver.installTeam(team, by), 200);

    const page = await fx.store.targets.list({ kind: "channel", tenantId: fx.tenant.tenantId }, 10);
    assert.equal(page.items.length, 1, "one target per team");
    const target = page.items[0];
    assert.equal(target.teamId, team.id);
    assert.equal(target.teamName, team.name);
    assert.equal(target.conversationId, team.id, "posts go to the General channel");

    const welcomes = fx.emulator.delivered().filter((d) => d.conversationId.startsWith(team.id));
    assert.equal(welcomes.length, 1, "one welcome for the team, not one per member or per event");
    assert.equal(welcomes[0].conversationId.split(";")[0], team.id);
    assert.match(activityText(welcomes[0].activity), new RegExp(`added Herald to the team ${team.name}`));

    await fx.rostersSynced();
    assert.equal(await fx.store.members.countBySource(target.key), team.memberIds.length);
    const someone = fx.tenant.users.find((u) => u.id === team.memberIds[2])!;
    const found = await fx.store.members.find({ upn: someone.userPrincipalName.toUpperCase() });
    assert.equal(found?.userId, someone.id);
  });

  it("removes targets on uninstall and on team deletion", async () => {
    const user = fx.tenant.users[1];
    const team = fx.tenant.teams[0];
    const by = fx.tenant.users.find((u) => u.id === team.memberIds[0])!;
    await fx.driver.installPersonal(user);
    await fx.driver.installTeam(team, by);
    assert.equal(await fx.store.targets.count({ tenantId: fx.tenant.tenantId }), 2);

    assert.equal(await fx.driver.uninstallPersonal(user), 200);
    assert.equal(await fx.store.targets.get(targetKey(fx.tenant.tenantId, user.personalConversationId)), undefined);

    assert.equal(await fx.driver.teamDeleted(team, by), 200);
    assert.equal(await fx.store.targets.count({ tenantId: fx.tenant.tenantId }), 0);
  });

  it("records a conversation it first hears about through a message, with the sender's time zone", async () => {
    const user = fx.tenant.users[2];
    assert.equal(await fx.driver.message(user, user, "hello", { timeZone: "Asia/Tokyo" }), 200);
    const target = await fx.store.targets.get(targetKey(fx.tenant.tenantId, user.personalConversationId));
    assert.equal(target?.timeZone, "Asia/Tokyo");
  });

  it("a message brings a target that was pruned as gone back to active", async () => {
    const user = fx.tenant.users[3];
    await fx.driver.installPersonal(user);
    const key = targetKey(fx.tenant.tenantId, user.personalConversationId);
    await fx.store.targets.markGone(key, "ConversationBlockedByUser");
    await fx.driver.message(user, user, "help");
    assert.equal((await fx.store.targets.get(key))?.status, "active");
  });

  it("answers help with the command list", async () => {
    const user = fx.tenant.users[0];
    await fx.driver.message(user, user, "help");
    const replies = posted(user.personalConversationId);
    assert.match(replies.at(-1)!, /stop \*topic\*/, "a placeholder Teams shows (italic), not markup it swallows");
    await fx.driver.message(user, user, "status");
    const status = posted(user.personalConversationId).at(-1)!;
    assert.match(status, /“stop \*topic\*” for one topic/);
    assert.doesNotMatch(status, /<\w+>/, "Teams reads message text as markup: no <placeholder> in it");
  });

  it("reads the person's member record after a personal install: UPN and e-mail, paced like every roster read", async () => {
    const user = fx.tenant.users[4];
    assert.equal(await fx.driver.installPersonal(user), 200);
    await fx.rostersSynced();
    const member = await fx.store.members.get(fx.tenant.tenantId, user.id);
    assert.equal(member?.upn, user.userPrincipalName);
    assert.equal(member?.email, user.email);
    assert.equal(member?.personalConversationId, user.personalConversationId);
    assert.equal(fx.emulator.stats().byRoute.members, 1, "one member read, nothing else");
  });

  it("a personal install whose member record cannot be read is still recorded and welcomed", async () => {
    const user = fx.tenant.users[5];
    fx.emulator.addFault({ match: { route: "members", userId: user.id }, status: 403, code: "Forbidden" });
    assert.equal(await fx.driver.installPersonal(user), 200);
    await fx.rostersSynced();
    assert.equal((await fx.store.targets.get(targetKey(fx.tenant.tenantId, user.personalConversationId)))?.status, "active");
    assert.equal((await fx.store.members.get(fx.tenant.tenantId, user.id))?.upn, undefined);
    assert.equal(posted(user.personalConversationId).length, 1, "the welcome");
  });

  it("stop, stop <topic> and start change the person's preferences and confirm in plain words", async () => {
    const user = fx.tenant.users[0];
    const tenantId = fx.tenant.tenantId;
    await fx.driver.message(user, user, "stop weekly-digest");
    assert.equal(await fx.store.preferences.isOptedOut(tenantId, [user.aadObjectId], "weekly-digest"), true);
    assert.equal(await fx.store.preferences.isOptedOut(tenantId, [user.aadObjectId], "general"), false);
    assert.match(posted(user.personalConversationId).at(-1)!, /won't get notifications about “weekly-digest”/);

    await fx.driver.message(user, user, "STOP");
    assert.equal(await fx.store.preferences.isOptedOut(tenantId, [user.aadObjectId], "general"), true);

    await fx.driver.message(user, user, "start");
    assert.equal(await fx.store.preferences.isOptedOut(tenantId, [user.aadObjectId], "general"), false);
    assert.equal(await fx.store.preferences.isOptedOut(tenantId, [user.aadObjectId], "weekly-digest"), false);
    assert.match(posted(user.personalConversationId).at(-1)!, /will get any notification from Herald again/);
  });

  it("the card's Stop these button opts the person out of that category", async () => {
    const user = fx.tenant.users[4];
    assert.equal(await fx.driver.cardAction(user, user, { herald: "optout", category: "builds" }), 200);
    assert.equal(await fx.store.preferences.isOptedOut(fx.tenant.tenantId, [user.aadObjectId], "builds"), true);
    assert.match(posted(user.personalConversationId).at(-1)!, /“builds”/);
  });

  it("in a group chat, stop mutes the conversation rather than one person", async () => {
    const chat = fx.tenant.groupChats[0];
    const by = fx.tenant.users.find((u) => u.id === chat.memberIds[0])!;
    await fx.driver.installGroupChat(chat, by);
    await fx.driver.message(chat, by, "stop");
    assert.equal(await fx.store.preferences.isOptedOut(fx.tenant.tenantId, [targetKey(fx.tenant.tenantId, chat.id)], "general"), true);
    assert.match(posted(chat.id).at(-1)!, /This conversation won't get/);
  });

  it("an error in a turn is logged and the person sees an apology, never a stack trace", async () => {
    const user = fx.tenant.users[5];
    sinon.stub(fx.store.preferences, "optOut").rejects(new Error("disk on fire at /secret/path"));
    await fx.driver.message(user, user, "stop");
    const reply = (await eventually(() => posted(user.personalConversationId).at(-1), "an apology"))!;
    assert.match(reply, /Sorry, something went wrong/);
    assert.doesNotMatch(reply, /disk on fire|secret|at .*\.ts/);
  });
});
