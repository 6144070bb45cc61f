/**
 * Plays Teams' side of the conversation: posts realistic activities (installs, roster changes, messages,
 * card submits) to a bot's /api/messages. Pair it with ConnectorEmulator (its `serviceUrl`) and the same
 * seeded tenant, so what the bot hears and where it answers agree.
 */
import http from "node:http";
import {
  type Activity, type BotIdentity, type ConversationTarget, botAccount, clientInfo, envelope, isChannelRef, isTeam,
  localTimestamp,
} from "./teams-activities";
import type { SeededGroupChat, SeededTeam, SeededUser } from "./types";

export type { Activity, ConversationTarget } from "./teams-activities";

export interface ActivityDriverOptions {
  /** e.g. http://127.0.0.1:3978/api/messages */
  botEndpoint: string;
  /** The emulator's URL: what the bot will answer to. */
  serviceUrl: string;
  /** Bot app id; recipient is "28:<botId>". Defaults to the emulator's default app id. */
  botId?: string;
  botName?: string;
  /** Sent as the Authorization header when given (the bot may run without auth locally). */
  authorization?: string;
  /** Clock for timestamps (epoch ms). */
  now?: () => number;
}

export interface MessageOptions {
  timeZone?: string;
  /** Prefix "<at>bot</at>" with a mention entity. Default: true outside personal chats, as Teams requires. */
  mention?: boolean;
  replyToId?: string;
}

export interface PostResult {
  status: number;
  body: string;
}

/** An Adaptive Card Action.Execute button as the card declares it. */
export interface ExecuteAction {
  verb: string;
  data?: Record<string, unknown>;
  /** The action's `id`, when the card gives one. */
  id?: string;
}

/** The bot's synchronous answer to an invoke: HTTP status and the parsed JSON body (undefined when empty). */
export interface InvokeResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export const DEFAULT_BOT_ID = "00000000-0000-4000-8000-00000000b075";

export class ActivityDriver {
  private readonly bot: BotIdentity;
  private readonly endpoint: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  private readonly now: () => number;
  private seq = 0;
  private lastMessageId = 0;

  constructor(private readonly options: ActivityDriverOptions) {
    this.bot = { botId: options.botId ?? DEFAULT_BOT_ID, botName: options.botName ?? "Herald", serviceUrl: options.serviceUrl };
    this.endpoint = new URL(options.botEndpoint);
    this.now = options.now ?? (() => Date.now());
  }

  /** Release keep-alive sockets (call in after/afterEach). */
  close(): void {
    this.agent.destroy();
  }

  // --------------------------------------------------------------------------------- install lifecycle

  /** The user adds the app in personal scope: installationUpdate "add" + conversationUpdate adding the bot. */
  installPersonal(user: SeededUser): Promise<number> {
    return this.sendAll([this.installation(user, user, "add"), this.botMembership(user, user, "membersAdded")]);
  }

  uninstallPersonal(user: SeededUser): Promise<number> {
    return this.sendAll([this.installation(user, user, "remove"), this.botMembership(user, user, "membersRemoved")]);
  }

  installGroupChat(chat: SeededGroupChat, by: SeededUser): Promise<number> {
    return this.sendAll([this.installation(chat, by, "add"), this.botMembership(chat, by, "membersAdded")]);
  }

  uninstallGroupChat(chat: SeededGroupChat, by: SeededUser): Promise<number> {
    return this.sendAll([this.installation(chat, by, "remove"), this.botMembership(chat, by, "membersRemoved")]);
  }

  /** Added to a team: both activities arrive in the General channel (conversation id = team id). */
  installTeam(team: SeededTeam, by: SeededUser): Promise<number> {
    return this.sendAll([this.installation(team, by, "add"), this.botMembership(team, by, "membersAdded")]);
  }

  uninstallTeam(team: SeededTeam, by: SeededUser): Promise<number> {
    return this.sendAll([this.installation(team, by, "remove"), this.botMembership(team, by, "membersRemoved")]);
  }

  teamDeleted(team: SeededTeam, by?: SeededUser): Promise<number> {
    return this.send(this.teamEvent(team, by, "teamDeleted"));
  }

  teamRestored(team: SeededTeam, by?: SeededUser): Promise<number> {
    return this.send(this.teamEvent(team, by, "teamRestored"));
  }

  // ------------------------------------------------------------------------------------ roster changes

  membersAdded(where: SeededTeam | SeededGroupChat, users: SeededUser[], by?: SeededUser): Promise<number> {
    return this.send(this.rosterChange(where, users, by, "membersAdded"));
  }

  membersRemoved(where: SeededTeam | SeededGroupChat, users: SeededUser[], by?: SeededUser): Promise<number> {
    return this.send(this.rosterChange(where, users, by, "membersRemoved"));
  }

  // ------------------------------------------------------------------------------------------ messages

  message(where: ConversationTarget, from: SeededUser, text: string, options: MessageOptions = {}): Promise<number> {
    return this.send(this.buildMessage(where, from, text, options));
  }

  /** An Action.Submit from an Adaptive Card: a message with `value` and no text. */
  cardAction(where: ConversationTarget, from: SeededUser, value: Record<string, unknown>, options: MessageOptions = {}): Promise<number> {
    const activity = this.buildMessage(where, from, undefined, { ...options, mention: false });
    activity.value = value;
    activity.channelData.source = { name: "message" };
    if (options.replyToId) activity.channelData.legacy = { replyToId: options.replyToId };
    return this.send(activity);
  }

  /**
   * The person clicks an Action.Execute button on the message `replyToId`: Teams posts an `invoke` named
   * `adaptiveCard/action` and shows whatever the bot answers in that same HTTP response (a refreshed card or a
   * message), so the answer is returned here.
   */
  async executeAction(where: ConversationTarget, from: SeededUser, action: ExecuteAction, options: { replyToId: string; timeZone?: string }): Promise<InvokeResult> {
    const { status, body } = await this.post(this.buildExecuteAction(where, from, action, options));
    let parsed: unknown;
    try {
      parsed = body ? JSON.parse(body) : undefined;
    } catch {
      parsed = body;
    }
    return { status, body: parsed };
  }

  // ---------------------------------------------------------------------------------------- builders

  buildExecuteAction(where: ConversationTarget, from: SeededUser, action: ExecuteAction, options: { replyToId: string; timeZone?: string }): Activity {
    const at = new Date(this.now());
    const timeZone = options.timeZone ?? from.timeZone;
    const a = envelope(this.bot, "invoke", this.eventId(), at, where, from);
    a.name = "adaptiveCard/action";
    a.value = {
      action: { type: "Action.Execute", ...(action.id ? { id: action.id } : {}), verb: action.verb, data: action.data ?? {} },
      trigger: "manual",
    };
    a.replyToId = options.replyToId;
    a.localTimestamp = localTimestamp(at, timeZone);
    a.localTimezone = timeZone;
    a.entities = [clientInfo(from, timeZone)];
    a.channelData.source = { name: "message" };
    a.channelData.legacy = { replyToId: options.replyToId };
    return a;
  }

  buildMessage(where: ConversationTarget, from: SeededUser, text: string | undefined, options: MessageOptions = {}): Activity {
    const at = new Date(this.now());
    const timeZone = options.timeZone ?? from.timeZone;
    const a = envelope(this.bot, "message", this.messageId(at), at, where, from);
    a.localTimestamp = localTimestamp(at, timeZone);
    a.localTimezone = timeZone;
    a.entities = [clientInfo(from, timeZone)];
    a.attachments = [];
    if (options.replyToId) a.replyToId = options.replyToId;
    if (text !== undefined) {
      const personal = a.conversation.conversationType === "personal";
      const mention = options.mention ?? !personal;
      a.textFormat = "plain";
      if (mention) {
        const tag = `<at>${this.bot.botName}</at>`;
        a.text = `${tag} ${text}`;
        a.entities.push({ type: "mention", mentioned: botAccount(this.bot), text: tag });
      } else {
        a.text = text;
      }
    }
    return a;
  }

  installation(where: ConversationTarget, by: SeededUser, action: "add" | "remove"): Activity {
    const at = new Date(this.now());
    const a = envelope(this.bot, "installationUpdate", this.eventId(), at, where, by);
    a.action = action;
    a.entities = [clientInfo(by)];
    a.channelData.source = { name: "message" };
    const channelId = a.channelData.channel?.id;
    if (channelId) a.channelData.settings = { selectedChannel: { id: channelId } };
    return a;
  }

  botMembership(where: ConversationTarget, by: SeededUser, field: "membersAdded" | "membersRemoved"): Activity {
    const a = envelope(this.bot, "conversationUpdate", this.eventId(), new Date(this.now()), where, by);
    a[field] = [{ id: botAccount(this.bot).id }];
    if (isTeam(where) || isChannelRef(where)) {
      a.channelData.eventType = field === "membersAdded" ? "teamMemberAdded" : "teamMemberRemoved";
    }
    return a;
  }

  rosterChange(where: SeededTeam | SeededGroupChat, users: SeededUser[], by: SeededUser | undefined, field: "membersAdded" | "membersRemoved"): Activity {
    const a = envelope(this.bot, "conversationUpdate", this.eventId(), new Date(this.now()), where, by);
    a[field] = users.map((u) => ({ id: u.id, aadObjectId: u.aadObjectId }));
    if (isTeam(where)) a.channelData.eventType = field === "membersAdded" ? "teamMemberAdded" : "teamMemberRemoved";
    return a;
  }

  teamEvent(team: SeededTeam, by: SeededUser | undefined, eventType: string): Activity {
    const a = envelope(this.bot, "conversationUpdate", this.eventId(), new Date(this.now()), team, by);
    a.channelData.eventType = eventType;
    return a;
  }

  // ------------------------------------------------------------------------------------------ sending

  /** POST any activity; fills the envelope fields Teams always sets when they are missing. */
  async send(activity: Activity): Promise<number> {
    return (await this.post(activity)).status;
  }

  async post(activity: Activity): Promise<PostResult> {
    const at = new Date(this.now());
    const full: Activity = {
      id: this.eventId(),
      timestamp: at.toISOString(),
      channelId: "msteams",
      serviceUrl: this.bot.serviceUrl,
      recipient: botAccount(this.bot),
      ...activity,
    };
    return this.postJson(JSON.stringify(full));
  }

  /** Post many activities with at most `concurrency` in flight; statuses in input order (0 = connection error). */
  async sendMany(activities: Activity[], concurrency = 16): Promise<number[]> {
    const statuses = new Array<number>(activities.length);
    let next = 0;
    const worker = async () => {
      while (next < activities.length) {
        const i = next++;
        statuses[i] = await this.send(activities[i]).catch(() => 0);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, activities.length)) }, worker));
    return statuses;
  }

  /** Post in order; the first non-2xx status, else the last status. */
  private async sendAll(activities: Activity[]): Promise<number> {
    let last = 0;
    for (const a of activities) {
      last = await this.send(a);
      if (last < 200 || last > 299) return last;
    }
    return last;
  }

  private postJson(payload: string): Promise<PostResult> {
    const headers: Record<string, string | number> = {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(payload),
    };
    if (this.options.authorization) headers.authorization = this.options.authorization;
    return new Promise((resolve, reject) => {
      const req = http.request(this.endpoint, { method: "POST", agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** Teams message ids are epoch milliseconds; kept strictly increasing so two messages never share one. */
  private messageId(at: Date): string {
    this.lastMessageId = Math.max(this.lastMessageId + 1, at.getTime());
    return String(this.lastMessageId);
  }

  /** Teams event ids look like "f:<number>". */
  private eventId(): string {
    return `f:${1_000_000_000 + ++this.seq}`;
  }
}
