/**
 * The Bot Connector calls the delivery engine makes, behind an interface so the engine can be driven by a
 * fake in unit tests and by botbuilder everywhere else.
 *
 * `BotFrameworkConnector` gets its ConnectorClient from a botbuilder `CloudAdapter` (the same one the bot uses, so
 * auth and cloud settings live in one place): it runs one `continueConversationAsync` turn per service URL,
 * takes the turn's client, removes @azure/core-rest-pipeline's `defaultRetryPolicy` from it and keeps it. The
 * engine is the only retry layer (see docs/delivery.md — stacked retries multiply attempts and re-post 5xx
 * answers that Teams had in fact delivered). That is also why creating a conversation does not use
 * `adapter.createConversationAsync`: it makes a fresh client and posts before any hook could strip it.
 *
 * Errors are thrown raw (RestError) for teams-errors.ts to classify; no turn is involved in a call, so the bot's
 * `onTurnError` handler never sees (or swallows) them.
 */
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
  TurnContext,
  type Activity,
  type ConversationParameters,
  type ConversationReference,
  type TeamsChannelAccount,
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
  /** Replace the content of a message the bot posted (Teams shows "Edited"). */
  updateActivity(recipient: DeliveryRecipient & { conversationId: string }, activityId: string, activity: Partial<Activity>): Promise<void>;
  /** Delete a message the bot posted. */
  deleteActivity(recipient: DeliveryRecipient & { conversationId: string }, activityId: string): Promise<void>;
  /** One member of a conversation (UPN, e-mail, AAD object id); a 1:1's only member is the person. */
  getMember(serviceUrl: string, tenantId: string, conversationId: string, userId: string): Promise<TeamsChannelAccount>;
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
    sendToConversation(conversationId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    createConversation(parameters: ConversationParameters): Promise<{ id?: string; activityId?: string }>;
    getConversationPagedMembers(conversationId: string, options: { pageSize?: number; continuationToken?: string }):
      Promise<{ members?: TeamsChannelAccount[]; continuationToken?: string }>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<{ id?: string }>;
    deleteActivity(conversationId: string, activityId: string): Promise<unknown>;
    getConversationMember(conversationId: string, memberId: string): Promise<TeamsChannelAccount>;
  };
}

export interface BotFrameworkConnectorOptions {
  adapter: CloudAdapter;
  /** Empty locally (emulator, Playground): botbuilder then sends no Authorization header. */
  botAppId: string;
}

/** Distinct service URLs are few (one per Teams region); the bound only guards against garbage input. */
const MAX_CACHED_CLIENTS = 64;

export class BotFrameworkConnector implements TeamsConnector {
  private readonly adapter: CloudAdapter;
  private readonly botAppId: string;
  private readonly clients = new Map<string, Promise<ConnectorClientLike>>();

  constructor(options: BotFrameworkConnectorOptions) {
    this.adapter = options.adapter;
    this.botAppId = options.botAppId;
  }

  async sendActivity(recipient: DeliveryRecipient & { conversationId: string }, activity: Partial<Activity>): Promise<{ activityId?: string }> {
    const client = await this.client(recipient.serviceUrl);
    // What TurnContext.sendActivity does for a proactive turn: address the activity from the bot into the conversation.
    const outgoing = TurnContext.applyConversationReference(
      { ...activity, type: activity.type ?? "message" },
      this.reference(recipient.serviceUrl, recipient.tenantId, recipient.conversationId),
    );
    delete outgoing.id;
    const response = await client.conversations.sendToConversation(recipient.conversationId, outgoing);
    return { activityId: response?.id || undefined };
  }

  async createPersonalConversation(tenantId: string, serviceUrl: string, userId: string): Promise<string> {
    const client = await this.client(serviceUrl);
    const created = await client.conversations.createConversation({
      isGroup: false,
      bot: this.botAccount(),
      members: [{ id: userId, name: "" }],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as ConversationParameters);
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
    const client = await this.client(serviceUrl);
    const created = await client.conversations.createConversation({
      isGroup: true,
      bot: this.botAccount(),
      tenantId,
      channelData: { channel: { id: channelId }, team: { id: teamId }, tenant: { id: tenantId } },
      activity: { type: "message", ...activity },
    } as ConversationParameters);
    if (!created.id) throw new Error("createConversation returned no conversation id");
    return { conversationId: created.id, activityId: created.activityId || undefined };
  }

  async getPagedMembers(
    serviceUrl: string,
    _tenantId: string,
    conversationId: string,
    pageSize: number,
    continuationToken?: string,
  ): Promise<{ members: TeamsChannelAccount[]; continuationToken?: string }> {
    // The call TeamsInfo.getPagedMembers makes for a conversation, on the retry-free client.
    const client = await this.client(serviceUrl);
    const page = await client.conversations.getConversationPagedMembers(conversationId, { pageSize, continuationToken });
    return { members: page.members ?? [], continuationToken: page.continuationToken || undefined };
  }

  async updateActivity(recipient: DeliveryRecipient & { conversationId: string }, activityId: string, activity: Partial<Activity>): Promise<void> {
    const client = await this.client(recipient.serviceUrl);
    // What CloudAdapter.updateActivity sends: the activity addressed into the conversation, carrying its own id.
    const outgoing = TurnContext.applyConversationReference(
      { ...activity, type: activity.type ?? "message" },
      this.reference(recipient.serviceUrl, recipient.tenantId, recipient.conversationId),
    );
    outgoing.id = activityId;
    await client.conversations.updateActivity(recipient.conversationId, activityId, outgoing);
  }

  async deleteActivity(recipient: DeliveryRecipient & { conversationId: string }, activityId: string): Promise<void> {
    const client = await this.client(recipient.serviceUrl);
    await client.conversations.deleteActivity(recipient.conversationId, activityId);
  }

  async getMember(serviceUrl: string, _tenantId: string, conversationId: string, userId: string): Promise<TeamsChannelAccount> {
    // The call TeamsInfo.getMember makes outside a team, on the retry-free client.
    const client = await this.client(serviceUrl);
    return client.conversations.getConversationMember(conversationId, userId);
  }

  /**
   * A retry-free ConnectorClient for `serviceUrl`, made once by the adapter (so it carries the adapter's
   * credentials, which refresh their own token) and reused: one client per call would mean a new HTTP agent,
   * hence a new TCP/TLS connection, for every message — botbuilder's per-turn clients run at a fraction of
   * Teams' budget. This is the per-serviceUrl client cache the classic BotFrameworkAdapter kept too.
   */
  private client(serviceUrl: string): Promise<ConnectorClientLike> {
    let client = this.clients.get(serviceUrl);
    if (!client) {
      if (this.clients.size >= MAX_CACHED_CLIENTS) this.clients.delete(this.clients.keys().next().value as string);
      client = this.captureClient(serviceUrl);
      client.catch(() => this.clients.delete(serviceUrl));
      this.clients.set(serviceUrl, client);
    }
    return client;
  }

  private async captureClient(serviceUrl: string): Promise<ConnectorClientLike> {
    let client: ConnectorClientLike | undefined;
    await this.adapter.continueConversationAsync(this.botAppId, this.reference(serviceUrl, "", ""), async (ctx: TurnContext) => {
      client = ctx.turnState.get(ctx.adapter.ConnectorClientKey) as ConnectorClientLike | undefined;
    });
    if (!client) throw new Error("the adapter did not provide a ConnectorClient");
    stripRetryPolicy(client);
    return client;
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
