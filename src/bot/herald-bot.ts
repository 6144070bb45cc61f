/**
 * Herald's conversational side. TeamsFx's notification middleware has already written the bare conversation
 * reference through TeamsFxReferenceStore by the time these handlers run; here Herald adds what the
 * reference lacks (kind, team, who installed it, time zone, the members) and talks to people: a welcome on
 * install, `help`, and `stop` / `start` for opting out.
 */
import { TeamsActivityHandler, TeamsInfo, type Activity, type TurnContext } from "botbuilder";
import type { Logger } from "../logger";
import type { HeraldStore, MemberInput } from "../store/types";
import { targetKey } from "../store/types";
import { targetFromActivity, tenantOf } from "./activity-info";
import { describeCategory, parseCommand } from "./commands";
import { memberFromAccount } from "./member-record";
import type { RosterWork } from "./roster-sync";
import { helpActivity, welcomeActivity } from "./welcome";

export class HeraldBot extends TeamsActivityHandler {
  constructor(
    private readonly store: HeraldStore,
    private readonly logger: Logger,
    /** Stores a roster read for the tenant's partition owner (roster-sync.ts). */
    private readonly rosterSync: (work: RosterWork) => Promise<void>,
  ) {
    super();
    this.onInstallationUpdateAdd(async (context, next) => {
      await this.capture(context, { installedBy: context.activity.from?.name });
      if (context.activity.action?.toLowerCase() !== "add-upgrade") {
        // One welcome per installation: Teams also sends conversationUpdate(membersAdded) for the bot,
        // which deliberately does not welcome again; in a team this posts once, in the General channel.
        await context.sendActivity(welcomeActivity(context.activity));
      }
      await this.scheduleRosterSync(context);
      await next();
    });
    this.onInstallationUpdateRemove(async (context, next) => {
      await this.forget(context);
      await next();
    });
    this.onTeamsTeamDeletedEvent(async (_team, context, next) => {
      await this.forget(context);
      await next();
    });
    this.onTeamsTeamRestoredEvent(async (_team, context, next) => {
      await this.capture(context);
      await next();
    });
    this.onTeamsMembersAddedEvent(async (members, _team, context, next) => {
      const people = members.filter((m) => m.id !== context.activity.recipient?.id);
      if (people.length > 0 && context.activity.conversation?.conversationType !== "personal") {
        await this.recordMembers(context, people.map((m) => m.id));
      }
      await next();
    });
    this.onTeamsMembersRemovedEvent(async (members, _team, context, next) => {
      const botRemoved = members.some((m) => m.id === context.activity.recipient?.id);
      if (botRemoved) await this.forget(context);
      else await this.removeMembers(context, members.map((m) => m.id));
      await next();
    });
    this.onMessage(async (context, next) => {
      await this.capture(context);
      await this.handleMessage(context);
      await next();
    });
  }

  /** Records (or refreshes, and reactivates when gone) the conversation this activity came from. */
  private async capture(context: TurnContext, extra: { installedBy?: string } = {}): Promise<void> {
    const input = targetFromActivity(context.activity as Activity, extra);
    if (!input) return;
    await this.store.targets.upsert(input);
    if (input.kind === "personal" && input.userId) {
      await this.store.members.upsertMembers(input.key, [{
        tenantId: input.tenantId,
        userId: input.userId,
        serviceUrl: input.serviceUrl,
        personalConversationId: input.conversationId,
        ...(input.aadObjectId ? { aadObjectId: input.aadObjectId } : {}),
        ...(input.name ? { name: input.name } : {}),
        ...(input.timeZone ? { timeZone: input.timeZone } : {}),
      }]);
    }
  }

  private async forget(context: TurnContext): Promise<void> {
    const input = targetFromActivity(context.activity as Activity);
    if (!input) return;
    await this.store.targets.remove(input.key);
    await this.store.members.removeSource(input.key);
  }

  /**
   * Schedules reading the roster (a work item for the tenant's partition owner), after the turn has recorded the
   * install: a large team takes several paced requests, and Teams expects the install turn to answer quickly.
   */
  private async scheduleRosterSync(context: TurnContext): Promise<void> {
    const input = targetFromActivity(context.activity as Activity);
    if (!input || (input.kind === "personal" && !input.userId)) return;
    try {
      await this.rosterSync({
        sourceKey: input.key, tenantId: input.tenantId, serviceUrl: input.serviceUrl, conversationId: input.conversationId,
        ...(input.kind === "personal" ? { userId: input.userId } : {}),
      });
    } catch (error) {
      // The install itself is recorded; a roster we could not schedule is filled in as members are added later.
      this.logger.warn({ err: error, target: input.key }, "could not schedule reading the roster");
    }
  }

  private async recordMembers(context: TurnContext, userIds: string[]): Promise<void> {
    const input = targetFromActivity(context.activity as Activity);
    if (!input) return;
    const members: MemberInput[] = [];
    for (const userId of userIds) {
      try {
        members.push(memberFromAccount(await TeamsInfo.getMember(context, userId), input.tenantId, input.serviceUrl));
      } catch (error) {
        this.logger.warn({ err: error, userId }, "could not read a new member");
        members.push({ tenantId: input.tenantId, userId, serviceUrl: input.serviceUrl });
      }
    }
    await this.store.members.upsertMembers(input.key, members);
  }

  private async removeMembers(context: TurnContext, userIds: string[]): Promise<void> {
    const input = targetFromActivity(context.activity as Activity);
    if (input) await this.store.members.removeMembership(input.key, userIds);
  }

  private async handleMessage(context: TurnContext): Promise<void> {
    const value = context.activity.value as { herald?: string; category?: string } | undefined;
    if (value?.herald === "optout") {
      await this.setOptOut(context, value.category || "*", true);
      return;
    }
    if (value?.herald === "help") {
      await context.sendActivity(helpActivity());
      return;
    }
    const text = (context.activity.text ? removeMentions(context) : "").trim();
    if (!text) return;
    const command = parseCommand(text);
    switch (command.name) {
      case "help":
        await context.sendActivity(helpActivity());
        return;
      case "stop":
        await this.setOptOut(context, command.category, true);
        return;
      case "start":
        await this.setOptOut(context, command.category, false);
        return;
      case "status":
        await this.sendStatus(context);
        return;
      default:
        await context.sendActivity(`I didn't understand “${command.text.slice(0, 60)}”. Say **help** to see what I can do.`);
    }
  }

  /**
   * In a personal chat a preference belongs to the person. In a group chat or channel Herald posts to the
   * conversation, not to anyone in particular, so there `stop` mutes that conversation.
   */
  private optOutKey(context: TurnContext): { tenantId: string; userKey: string; scope: "you" | "this conversation" } | undefined {
    const activity = context.activity;
    const tenantId = tenantOf(activity);
    if (!tenantId) return undefined;
    if (activity.conversation?.conversationType === "personal") {
      const userKey = activity.from?.aadObjectId ?? activity.from?.id;
      return userKey ? { tenantId, userKey, scope: "you" } : undefined;
    }
    const target = targetFromActivity(activity as Activity);
    return { tenantId, userKey: target?.key ?? targetKey(tenantId, activity.conversation.id), scope: "this conversation" };
  }

  private async setOptOut(context: TurnContext, category: string, stop: boolean): Promise<void> {
    const key = this.optOutKey(context);
    if (!key) {
      await context.sendActivity("I couldn't tell who you are in this conversation, so nothing changed.");
      return;
    }
    const who = key.scope === "you" ? "You" : "This conversation";
    if (stop) {
      await this.store.preferences.optOut(key.tenantId, key.userKey, category);
      await context.sendActivity(`Done. ${who} won't get ${describeCategory(category)} from Herald any more. Say “start${category === "*" ? "" : ` ${category}`}” to get them again.`);
    } else {
      await this.store.preferences.optIn(key.tenantId, key.userKey, category);
      await context.sendActivity(`Done. ${who} will get ${describeCategory(category)} from Herald again.`);
    }
  }

  private async sendStatus(context: TurnContext): Promise<void> {
    const key = this.optOutKey(context);
    const optOuts = key ? await this.store.preferences.list(key.tenantId, key.userKey) : [];
    if (optOuts.length === 0) {
      await context.sendActivity("You get every notification Herald sends here. Say “stop” to stop them, or “stop *topic*” for one topic.");
      return;
    }
    const list = optOuts.map((o) => (o.category === "*" ? "everything" : `“${o.category}”`)).join(", ");
    await context.sendActivity(`Stopped: ${list}. Say “start” to get everything again.`);
  }
}

function removeMentions(context: TurnContext): string {
  const activity = context.activity;
  let text = activity.text ?? "";
  for (const entity of activity.entities ?? []) {
    if (entity.type === "mention" && entity.mentioned?.id === activity.recipient?.id && typeof entity.text === "string") {
      text = text.replace(entity.text, "");
    }
  }
  return text.replace(/<at>[^<]*<\/at>/g, "");
}
