/**
 * The four Bot Connector calls the delivery engine makes, behind an interface so the engine can be driven by a
 * fake in unit tests and by botbuilder everywhere else.
 *
 * `BotFrameworkConnector` goes through a botbuilder `CloudAdapter` (the same one the bot uses, so auth and cloud
 * settings live in one place) and makes every call inside `continueConversationAsync`, where the turn's
 * ConnectorClient is reachable. Before each call it removes @azure/core-rest-pipeline's `defaultRetryPolicy`
 * from that client: the engine is the only retry layer (see docs/delivery.md — stacked retries multiply attempts
 * and re-post 5xx answers that Teams had in fact delivered). That is also why creating a conversation does not
 * use `adapter.createConversationAsync`: it creates its client and posts before any hook could strip it.
 *
 * Errors are thrown raw (RestError) for teams-errors.ts to classify. They are caught inside the turn logic and
 * rethrown after it, so an adapter `onTurnError` handler (the bot's) never swallows them.
 */
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
  TeamsInfo,
  type Activity,
  type ConversationParameters,
  type ConversationReference,
  type TeamsChannelAccount,
  type TurnContext,
} from "botbuilder";
import type { DeliveryRecipient } from "../store/types";

export interface TeamsConnector {
  /** Post into an existing conversation. */
  sendActivity(recipient: DeliveryRecipient & { conversationId: string }, activity: Partial<Activity>): Promise<{ activityId?: string }>;
  /** Create (or get — Teams returns the same id for the same user) the bot's 1:1 chat with a user. */
  createPersonalConversation(tenantId: string, serviceUrl: string, userId: string): Promise<string>;
  /** Start a new thread in a channel; the activity is its first post. */
  createChannelThread(
    serviceUrl: string,
    tenantId: string,
    teamId: string,
    channelId: string,
    activity: Partial<Activity>,
  ): Promise<{ conversationId: string; activityId?: string }>;
  getPagedMembers(
    serviceUrl: string,
    tenantId: string,
    conversationId: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ members: TeamsChannelAccount[]; continuationToken?: string }>;
}

/** Name of @azure/core-rest-pipeline's retry policy (`defaultRetryPolicyName`). */
export const DEFAULT_RETRY_POLICY_NAME = "defaultRetryPolicy";

interface PolicyPipeline {
  removePolicy(options: { name?: string }): unknown[];
  getOrderedPolicies(): Array<{ name: string }>;
}

/**
 * Remove the HTTP-level retry policy from a botframework-connector ConnectorClient. The pipeline lives at
 * `connectorClient.client.pipeline` (botbuilder-stdlib's ServiceClientContext wraps a core-client ServiceClient);
 * if a botbuilder upgrade moves it, this throws rather than silently retrying twice.
 */
export function stripRetryPolicy(connectorClient: unknown): void {
  const pipeline = (connectorClient as { client?: { pipeline?: PolicyPipeline } } | undefined)?.client?.pipeline;
  if (!pipeline || typeof pipeline.removePolicy !== "function" || typeof pipeline.getOrderedPolicies !== "function") {
    throw new Error("botbuilder's ConnectorClient has no client.pipeline; cannot disable its retry policy (botbuilder changed?)");
  }
  pipeline.removePolicy({ name: DEFAULT_RETRY_POLICY_NAME });
  if (pipeline.getOrderedPolicies().some((p) => p.name === DEFAULT_RETRY_POLICY_NAME)) {
    throw new Error("failed to remove defaultRetryPolicy from the connector pipeline");
  }
}

/** The subset of a ConnectorClient this module calls (botframework-connector's types are not re-exported). */
interface ConnectorClientLike {
  conversations: {
    createConversation(parameters: ConversationParameters): Promise<{ id?: string; activityId?: string }>;
  };
}

export interface BotFrameworkConnectorOptions {
  adapter: CloudAdapter;
  /** Empty locally (emulator, Playground): botbuilder then sends no Authorization header. */
  botAppId: string;
}

export class BotFrameworkConnector implements TeamsConnector {
  private readonly adapter: CloudAdapter;
  private readonly botAppId: string;

  constructor(options: BotFrameworkConnectorOptions) {
    this.adapter = options.adapter;
    this.botAppId = options.botAppId;
  }

  async sendActivity(recipient: DeliveryRecipient & { conversationId: string }, activity: Partial<Activity>): Promise<{ activityId?: string }> {
    const reference = this.reference(recipient.serviceUrl, recipient.tenantId, recipient.conversationId);
    return this.inTurn(reference, async (ctx) => {
      const response = await ctx.sendActivity(activity);
      return { activityId: response?.id || undefined };
    });
  }

  async createPersonalConversation(tenantId: string, serviceUrl: string, userId: string): Promise<string> {
    const parameters = {
      isGroup: false,
      bot: this.botAccount(),
      members: [{ id: userId, name: "" }],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as ConversationParameters;
    const created = await this.withClient(serviceUrl, tenantId, (client) => client.conversations.createConversation(parameters));
    if (!created.id) throw new Error("createConversation returned no conversation id");
    return created.id;
  }

  async createChannelThread(
    serviceUrl: string,
    tenantId: string,
    teamId: string,
    channelId: string,
    activity: Partial<Activity>,
  ): Promise<{ conversationId: string; activityId?: string }> {
    const parameters = {
      isGroup: true,
      bot: this.botAccount(),
      tenantId,
      channelData: { channel: { id: channelId }, team: { id: teamId }, tenant: { id: tenantId } },
      activity: { type: "message", ...activity },
    } as ConversationParameters;
    const created = await this.withClient(serviceUrl, tenantId, (client) => client.conversations.createConversation(parameters));
    if (!created.id) throw new Error("createConversation returned no conversation id");
    return { conversationId: created.id, activityId: created.activityId || undefined };
  }

  async getPagedMembers(
    serviceUrl: string,
    tenantId: string,
    conversationId: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ members: TeamsChannelAccount[]; continuationToken?: string }> {
    const reference = this.reference(serviceUrl, tenantId, conversationId);
    return this.inTurn(reference, async (ctx) => {
      const page = await TeamsInfo.getPagedMembers(ctx, pageSize, continuationToken);
      return { members: page.members ?? [], continuationToken: page.continuationToken || undefined };
    });
  }

  /** Run `call` with a retry-stripped ConnectorClient for `serviceUrl` (no conversation needed). */
  private withClient<T>(serviceUrl: string, tenantId: string, call: (client: ConnectorClientLike) => Promise<T>): Promise<T> {
    return this.inTurn(this.reference(serviceUrl, tenantId, ""), (ctx) => {
      const client = ctx.turnState.get(ctx.adapter.ConnectorClientKey) as ConnectorClientLike;
      return call(client);
    });
  }

  /** A proactive turn whose ConnectorClient has no retry policy; the logic's error or result comes back out. */
  private async inTurn<T>(reference: Partial<ConversationReference>, logic: (ctx: TurnContext) => Promise<T>): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    await this.adapter.continueConversationAsync(this.botAppId, reference, async (ctx) => {
      try {
        stripRetryPolicy(ctx.turnState.get(ctx.adapter.ConnectorClientKey));
        outcome = { ok: true, value: await logic(ctx) };
      } catch (error) {
        outcome = { ok: false, error };
      }
    });
    if (!outcome) throw new Error("the adapter did not run the proactive turn");
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  private reference(serviceUrl: string, tenantId: string, conversationId: string): Partial<ConversationReference> {
    return {
      channelId: "msteams",
      serviceUrl,
      // No empty conversationType/name: Agents Playground rejects an activity whose conversationType is "".
      conversation: { id: conversationId, tenantId } as ConversationReference["conversation"],
      bot: this.botAccount(),
    };
  }

  private botAccount(): { id: string; name: string } {
    return { id: `28:${this.botAppId}`, name: "" };
  }
}

export interface BotAuthSettings {
  botId?: string;
  botPassword?: string;
  /** "MultiTenant" (default), "SingleTenant" or "UserAssignedMSI". */
  botType?: string;
  botTenantId?: string;
}

/** The CloudAdapter the bot and the engine share. Without a bot id it sends and accepts unauthenticated calls (local only). */
export function createCloudAdapter(auth: BotAuthSettings): CloudAdapter {
  const credentials = new ConfigurationServiceClientCredentialFactory({
    MicrosoftAppId: auth.botId || undefined,
    MicrosoftAppPassword: auth.botPassword || undefined,
    MicrosoftAppType: auth.botType || "MultiTenant",
    MicrosoftAppTenantId: auth.botTenantId || undefined,
  });
  return new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}, credentials));
}
