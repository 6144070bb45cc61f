/**
 * Helpers for tests of notifications after sending: personal installs written straight into a Herald's store
 * (hundreds, without driving an install each), a connector that remembers what each copy said when it was first
 * posted (the emulator keeps only the latest content), and report polling.
 */
import type { Activity } from "botbuilder";
import type { SeededUser } from "../../src/emulator/types";
import type { TeamsConnector } from "../../src/delivery/teams-connector";
import { targetKey, type HeraldStore } from "../../src/store/types";
import { botConnector } from "../delivery/support";
import { activityText, eventually, type HeraldFixture } from "./herald-fixture";

export async function storePersonalInstalls(store: HeraldStore, serviceUrl: string, users: SeededUser[]): Promise<void> {
  await Promise.all(users.map((user) => {
    const key = targetKey(user.tenantId, user.personalConversationId);
    return Promise.all([
      store.targets.upsert({
        key, kind: "personal", tenantId: user.tenantId, conversationId: user.personalConversationId, serviceUrl,
        userId: user.id, aadObjectId: user.aadObjectId, name: user.name, timeZone: user.timeZone,
        reference: { channelId: "msteams", serviceUrl, conversation: { id: user.personalConversationId, tenantId: user.tenantId, conversationType: "personal" } as never, user: { id: user.id, name: user.name } },
      }),
      store.members.upsertMembers(key, [{
        tenantId: user.tenantId, userId: user.id, serviceUrl, aadObjectId: user.aadObjectId, name: user.name,
        personalConversationId: user.personalConversationId, timeZone: user.timeZone,
      }]),
    ]);
  }));
}

/** The real Bot Framework connector, remembering the text of every message as it was first posted. */
export class PostedContent implements TeamsConnector {
  private readonly inner = botConnector();
  /** activityId → text as posted. */
  readonly posted = new Map<string, string>();

  async sendActivity(...args: Parameters<TeamsConnector["sendActivity"]>) {
    const result = await this.inner.sendActivity(...args);
    if (result.activityId) this.posted.set(result.activityId, activityText(args[1] as Record<string, unknown>));
    return result;
  }
  createPersonalConversation(...args: Parameters<TeamsConnector["createPersonalConversation"]>) { return this.inner.createPersonalConversation(...args); }
  async createChannelThread(...args: Parameters<TeamsConnector["createChannelThread"]>) {
    const result = await this.inner.createChannelThread(...args);
    if (result.activityId) this.posted.set(result.activityId, activityText(args[4] as Partial<Activity> as Record<string, unknown>));
    return result;
  }
  getPagedMembers(...args: Parameters<TeamsConnector["getPagedMembers"]>) { return this.inner.getPagedMembers(...args); }
  updateActivity(...args: Parameters<TeamsConnector["updateActivity"]>) { return this.inner.updateActivity(...args); }
  deleteActivity(...args: Parameters<TeamsConnector["deleteActivity"]>) { return this.inner.deleteActivity(...args); }
  getMember(...args: Parameters<TeamsConnector["getMember"]>) { return this.inner.getMember(...args); }
}

/** Polls the report until `done` says so. */
export async function reportWhen(fx: Pick<HeraldFixture, "api">, id: string, done: (report: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> {
  return eventually(async () => {
    const r = await fx.api("GET", `/api/notifications/${id}`);
    return r.status === 200 && done(r.body) ? r.body : undefined;
  }, what, timeoutMs);
}

/** Every delivery of a notification (all pages), optionally with a query string. */
export async function allDeliveries(fx: Pick<HeraldFixture, "api">, id: string, query = ""): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | undefined;
  do {
    const r = await fx.api("GET", `/api/notifications/${id}/deliveries?limit=1000${query ? `&${query}` : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (r.status !== 200) throw new Error(`deliveries: ${r.status} ${JSON.stringify(r.body)}`);
    all.push(...r.body.items);
    cursor = r.body.cursor;
  } while (cursor);
  return all;
}
