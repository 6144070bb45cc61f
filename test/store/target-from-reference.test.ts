import assert from "node:assert/strict";
import type { ConversationReference } from "botbuilder";
import { targetInputFromReference } from "../../src/store/target-from-reference";
import type { TargetInput } from "../../src/store/types";

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const base = {
  bot: { id: "28:bot", name: "Herald" },
  channelId: "msteams",
  serviceUrl: "https://smba.trafficmanager.net/amer/",
};

function ok(result: TargetInput | { error: string }): TargetInput {
  if ("error" in result) assert.fail(result.error);
  return result;
}

describe("targetInputFromReference", function () {
  it("maps a personal chat: user ids, name, locale, TeamsFx key", function () {
    const ref = {
      ...base,
      activityId: "f:1",
      locale: "en-GB",
      user: { id: "29:1ada", name: "Ada", aadObjectId: "aad-1" },
      conversation: { id: "a:1chat", conversationType: "personal", tenantId: TENANT },
    } as Partial<ConversationReference>;
    const input = ok(targetInputFromReference(ref));
    assert.equal(input.key, `_${TENANT}_a:1chat`);
    assert.equal(input.kind, "personal");
    assert.equal(input.tenantId, TENANT);
    assert.equal(input.conversationId, "a:1chat");
    assert.equal(input.serviceUrl, base.serviceUrl);
    assert.equal(input.userId, "29:1ada");
    assert.equal(input.aadObjectId, "aad-1");
    assert.equal(input.name, "Ada");
    assert.equal(input.locale, "en-GB");
    assert.equal(input.teamId, undefined);
    assert.deepEqual(input.reference, ref);
    assert.notEqual(input.reference, ref, "the reference is copied");
  });

  it("maps a channel: the team id is conversation.id; a ;messageid suffix is dropped", function () {
    const ref = {
      ...base,
      user: { id: "29:1installer", name: "Installer" },
      conversation: { id: "19:team@thread.tacv2;messageid=1700000000123", conversationType: "channel", tenantId: TENANT, isGroup: true },
    } as Partial<ConversationReference>;
    const input = ok(targetInputFromReference(ref, { teamName: "Ops", installedBy: "Installer" }));
    assert.equal(input.kind, "channel");
    assert.equal(input.conversationId, "19:team@thread.tacv2");
    assert.equal(input.key, `_${TENANT}_19:team@thread.tacv2`);
    assert.equal(input.teamId, "19:team@thread.tacv2");
    assert.equal(input.channelId, "19:team@thread.tacv2");
    assert.equal(input.reference.conversation?.id, "19:team@thread.tacv2");
    assert.equal(input.teamName, "Ops");
    assert.equal(input.installedBy, "Installer");
    assert.equal(input.userId, undefined, "the person who triggered a channel capture is not the target");
  });

  it("maps a group chat with its name; extra wins and the key follows it", function () {
    const ref = { ...base, conversation: { id: "19:g@thread.v2", conversationType: "groupChat", tenantId: TENANT, name: "Launch" } } as Partial<ConversationReference>;
    const input = ok(targetInputFromReference(ref, { timeZone: "Europe/Berlin", name: "Launch crew" }));
    assert.equal(input.kind, "groupChat");
    assert.equal(input.name, "Launch crew");
    assert.equal(input.timeZone, "Europe/Berlin");
    const other = ok(targetInputFromReference(ref, { tenantId: "other-tenant" }));
    assert.equal(other.key, "_other-tenant_19:g@thread.v2");
  });

  it("explains what is missing", function () {
    const cases: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      [{ ...base }, /no conversation/],
      [{ ...base, conversation: { conversationType: "personal", tenantId: TENANT } }, /no conversation id/],
      [{ conversation: { id: "a:1", conversationType: "personal", tenantId: TENANT } }, /no serviceUrl/],
      [{ ...base, conversation: { id: "a:1", conversationType: "meetingChat", tenantId: TENANT } }, /unknown conversationType "meetingChat"/],
      [{ ...base, conversation: { id: "a:1", tenantId: TENANT } }, /unknown conversationType null/],
      [{ ...base, conversation: { id: "a:1", conversationType: "personal" } }, /no tenant id/],
    ];
    for (const [ref, reason] of cases) {
      const result = targetInputFromReference(ref as Partial<ConversationReference>);
      assert.ok("error" in result, JSON.stringify(ref));
      assert.match(result.error, reason);
    }
  });
});
