/**
 * A Teams Bot Connector v3 emulator on node:http: the `serviceUrl` bots post to in tests, benchmarks and
 * local runs. It knows a seeded tenant, enforces Teams' rate limits (optionally time-scaled), injects faults
 * and records every delivered activity. See docs/emulator.md.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { ActivityLog } from "./activity-log";
import { ConnectorLimits, type LimitedRoute } from "./connector-limits";
import { handleControl } from "./control-api";
import { FaultInjector, baseThreadId, seededRandom } from "./faults";
import { BodyError, errorReply, pathSegments, readJsonBody, splitUrl, writeReply, type Reply } from "./http-util";
import { memberReply, pagedMembersReply } from "./roster-paging";
import { TenantDirectory } from "./tenant-directory";
import type {
  ActivityUpdate, DeliveredActivity, EmulatorOptions, EmulatorStats, FaultRoute, FaultRule, KnownConversation, SeededTenant, TenantSpec,
} from "./types";

export { DEFAULT_MEMBERS_PAGE_SIZE, MAX_MEMBERS_PAGE_SIZE, MIN_MEMBERS_PAGE_SIZE } from "./roster-paging";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A parsed /v3 request: what it touches and how to carry it out once faults and limits allow. */
interface Plan {
  route: Exclude<FaultRoute, "any">;
  limited: LimitedRoute;
  limitKey: string;
  tenantId?: string;
  conversationId?: string;
  userId?: string;
  /** Validation/existence failure: answered as is, not counted by the limiter. */
  reject?: Reply;
  commit?: () => Reply;
}

const DEFAULT_MESSAGES: Record<string, string> = {
  ConversationNotFound: "Conversation not found.",
  BotNotInConversationRoster: "The bot is not part of the conversation roster.",
  ConversationBlockedByUser: "User blocked the conversation with the bot.",
  Throttled: "Too many requests.",
  ActivityNotFoundInConversation: "Message does not exist in the thread.",
};
const CODE_BY_STATUS: Record<number, string> = {
  400: "BadArgument", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 412: "PreconditionFailed",
  429: "Throttled", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
};

function emptyStats(): EmulatorStats {
  return {
    requests: 0, byRoute: {}, throttled: 0, rateLimited: 0, faultsInjected: 0, maxConcurrent: 0,
    authHeaderSeen: false, requestsWithAuth: 0, delivered: 0, updated: 0, deleted: 0,
  };
}

export class ConnectorEmulator {
  readonly directory = new TenantDirectory();
  readonly appId: string;
  private readonly latencyMs: number;
  private readonly jitterMs: number;
  private readonly limitsOn: boolean;
  private readonly acceptUnknown: boolean;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly limits: ConnectorLimits;
  private readonly faults: FaultInjector;
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private baseUrl?: string;
  private readonly log: ActivityLog;
  private counters: EmulatorStats = emptyStats();
  /** When each /v3 request of a tenant arrived (all routes, throttled ones too), for rate checks. */
  private arrivalsByTenant = new Map<string, number[]>();
  private inFlight = 0;
  private activitySeq = 0;
  /** Set while a `deliverAnyway` fault commits, so the delivery is flagged `faulted`. */
  private faultedCommit = false;

  constructor(options: EmulatorOptions = {}) {
    this.appId = options.appId ?? "00000000-0000-4000-8000-00000000b075";
    this.latencyMs = Math.max(0, options.latencyMs ?? 0);
    this.jitterMs = Math.max(0, options.latencyJitterMs ?? 0);
    this.limitsOn = options.limits ?? true;
    this.acceptUnknown = options.acceptUnknownConversations ?? false;
    this.log = new ActivityLog(options.recordActivities ?? true);
    this.now = options.now ?? (() => Date.now());
    this.random = seededRandom(options.seed ?? 1);
    this.limits = new ConnectorLimits(options.timeScale ?? 1, options.globalPerSecond ?? 50);
    this.faults = new FaultInjector(this.random);
  }

  /** The base URL (serviceUrl) once started. */
  get url(): string {
    if (!this.baseUrl) throw new Error("ConnectorEmulator is not started");
    return this.baseUrl;
  }

  async start(port = 0): Promise<string> {
    if (this.baseUrl) return this.baseUrl;
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 65_000;
    server.on("connection", (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.baseUrl = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  // ------------------------------------------------------------------------------------------ setup API

  /** Seed a tenant from a spec (generated deterministically) or from an already generated tenant. */
  seed(spec: TenantSpec | SeededTenant): SeededTenant {
    return this.directory.seed(spec);
  }

  /** Make any conversation id known (e.g. one a test made up). */
  registerConversation(conversation: KnownConversation): void {
    this.directory.register(conversation);
  }

  addFault(rule: FaultRule): number {
    return this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  listFaults(): ReturnType<FaultInjector["list"]> {
    return this.faults.list();
  }

  // ---------------------------------------------------------------------------------------- inspection

  /**
   * Delivered activities in arrival order; with an id, only those posted to exactly that conversation. Updated
   * messages show their latest content; deleted ones stay listed with `deletedAt` (see `visible`).
   */
  delivered(conversationId?: string): DeliveredActivity[] {
    return this.log.delivered(conversationId);
  }

  /** Delivered and not deleted: what a person would still see in the conversation. */
  visible(conversationId?: string): DeliveredActivity[] {
    return this.log.delivered(conversationId).filter((d) => d.deletedAt === undefined);
  }

  /** One message by activity id (deleted or not), with its update history; undefined when never posted. */
  activity(activityId: string): DeliveredActivity | undefined {
    return this.log.get(activityId);
  }

  /** Every accepted update of a message, oldest first (empty when never updated or unknown). */
  updatesOf(activityId: string): ActivityUpdate[] {
    return this.log.updatesOf(activityId);
  }

  /** The message's content now: as posted, or as last updated. Undefined when unknown or not recorded. */
  latestContent(activityId: string): Record<string, unknown> | undefined {
    return this.log.get(activityId)?.activity;
  }

  /** Deleted messages in deletion order; with an id, only that conversation's. */
  deleted(conversationId?: string): DeliveredActivity[] {
    return this.log.deleted(conversationId);
  }

  /**
   * The most requests one tenant sent in any window of `windowMs` (all routes, answered or throttled): what Teams'
   * "50 requests per second per app per tenant" measures. With no tenant, the busiest tenant's figure.
   */
  busiestWindow(windowMs: number, tenantId?: string): number {
    const lists = tenantId === undefined ? [...this.arrivalsByTenant.values()] : [this.arrivalsByTenant.get(tenantId) ?? []];
    let most = 0;
    for (const times of lists) {
      const sorted = [...times].sort((a, b) => a - b);
      for (let head = 0, tail = 0; head < sorted.length; head++) {
        while (sorted[head]! - sorted[tail]! >= windowMs) tail++;
        most = Math.max(most, head - tail + 1);
      }
    }
    return most;
  }

  stats(): EmulatorStats {
    return { ...this.counters, byRoute: { ...this.counters.byRoute }, ...this.log.counts };
  }

  /** Forget deliveries, stats, rate-limit windows and faults; keep the seeded tenants and known conversations. */
  reset(): void {
    this.arrivalsByTenant = new Map();
    this.log.clear();
    this.counters = emptyStats();
    this.limits.clear();
    this.faults.clear();
  }

  // ------------------------------------------------------------------------------------------- serving

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "/";
    if (url.startsWith("/v3/")) {
      this.serveApi(req, res, url).catch((err) => writeReply(res, internalError(err)));
    } else if (url.startsWith("/_emulator")) {
      handleControl(this, req, res, url).catch((err) => writeReply(res, internalError(err)));
    } else {
      writeReply(res, errorReply(404, "NotFound", "No such route."));
    }
  }

  private async serveApi(req: http.IncomingMessage, res: http.ServerResponse, url: string): Promise<void> {
    // Teams counts a request when it arrives, not when its body has been read.
    const arrivedAt = this.now();
    const c = this.counters;
    c.requests++;
    this.inFlight++;
    if (this.inFlight > c.maxConcurrent) c.maxConcurrent = this.inFlight;
    res.once("close", () => this.inFlight--);
    const authorized = req.headers.authorization !== undefined;
    if (authorized) {
      c.authHeaderSeen = true;
      c.requestsWithAuth++;
    }
    let reply: Reply;
    try {
      const method = req.method ?? "GET";
      const body = method === "POST" || method === "PUT" ? await readJsonBody(req) : undefined;
      const { path, query } = splitUrl(url);
      reply = this.process(method, pathSegments(path).slice(1), query, (body ?? {}) as Json, authorized, arrivedAt);
    } catch (err) {
      reply = err instanceof BodyError ? errorReply(err.status, err.code, err.message) : internalError(err);
    }
    const delay = this.latencyMs + (this.jitterMs ? this.random() * this.jitterMs : 0);
    if (delay > 0) setTimeout(() => writeReply(res, reply), delay);
    else writeReply(res, reply);
  }

  private process(method: string, seg: string[], query: URLSearchParams, body: Json, authorized: boolean, arrivedAt: number): Reply {
    const plan = this.plan(method, seg, query, body, authorized);
    if (!plan) {
      this.bump("unknown");
      return errorReply(404, "NotFound", `No route for ${method} /v3/${seg.join("/")}.`);
    }
    this.bump(plan.route);
    const now = arrivedAt;
    const tenantKey = plan.tenantId ?? "unknown";
    let arrivals = this.arrivalsByTenant.get(tenantKey);
    if (!arrivals) this.arrivalsByTenant.set(tenantKey, (arrivals = []));
    arrivals.push(now);

    const fault = this.faults.pick({ route: plan.route, conversationId: plan.conversationId, userId: plan.userId, tenantId: plan.tenantId });
    if (fault) {
      this.counters.faultsInjected++;
      if (fault.status === 429) this.counters.throttled++;
      if (fault.deliverAnyway && plan.commit && !plan.reject) {
        this.faultedCommit = true;
        try {
          plan.commit();
        } finally {
          this.faultedCommit = false;
        }
        this.limits.count(plan.limited, plan.limitKey, tenantKey, now);
      }
      return faultReply(fault);
    }
    if (plan.reject) return plan.reject;

    if (this.limitsOn) {
      const verdict = this.limits.take(plan.limited, plan.limitKey, tenantKey, now);
      if (!verdict.ok) {
        this.counters.throttled++;
        this.counters.rateLimited++;
        return errorReply(429, "Throttled", `Too many requests (${verdict.reason}).`, {
          "retry-after": this.limits.retryAfterHeader(verdict.retryAfterMs),
        });
      }
    }
    return plan.commit ? plan.commit() : { status: 200, body: {} };
  }

  private bump(route: string): void {
    this.counters.byRoute[route] = (this.counters.byRoute[route] ?? 0) + 1;
  }

  /** Map a request onto a plan; undefined when no route matches. */
  private plan(method: string, seg: string[], query: URLSearchParams, body: Json, authorized: boolean): Plan | undefined {
    if (seg[0] === "conversations") {
      if (seg.length === 1 && method === "POST") return this.planCreate(body, authorized);
      if (seg.length < 3) return undefined;
      const conversationId = seg[1];
      const conv = this.lookup(conversationId, body);
      const thread = baseThreadId(conversationId);
      const base = { conversationId, tenantId: conv?.tenantId, limitKey: thread };
      const notFound = conv ? undefined : conversationNotFound();
      if (seg[2] === "activities" && seg.length <= 4) {
        const activityId = seg[3];
        if (method === "POST") {
          return {
            ...base, route: "send", limited: "send", reject: notFound, userId: conv?.userId ?? body?.recipient?.id,
            commit: () => this.deliver(conversationId, conv!, body, authorized, activityId ?? body.replyToId),
          };
        }
        if (activityId && (method === "PUT" || method === "DELETE")) return this.planEdit(method, base, conv, activityId, body);
        return undefined;
      }
      if (method !== "GET") return undefined;
      const members = { ...base, route: "members" as const, limited: "members" as const, reject: notFound };
      if (seg[2] === "members" && seg.length === 3) {
        return { ...members, commit: () => ({ status: 200, body: this.directory.members(conv!) }) };
      }
      if (seg[2] === "members" && seg.length === 4) {
        return { ...members, userId: seg[3], commit: () => memberReply(this.directory.members(conv!), seg[3]) };
      }
      if (seg[2] === "pagedmembers" && seg.length === 3) {
        return { ...members, commit: () => pagedMembersReply(this.directory.members(conv!), query) };
      }
      return undefined;
    }
    if (seg[0] === "teams" && method === "GET" && (seg.length === 2 || (seg.length === 3 && seg[2] === "conversations"))) {
      const team = this.directory.team(seg[1]);
      return {
        route: "teams", limited: "other", limitKey: seg[1], tenantId: team?.tenantId, conversationId: seg[1],
        reject: team ? undefined : errorReply(404, "NotFound", "Team not found."),
        commit: () => seg.length === 2
          ? { status: 200, body: { id: team!.id, name: team!.name, aadGroupId: team!.aadGroupId, memberCount: team!.memberIds.length, channelCount: team!.channels.length } }
          : { status: 200, body: { conversations: team!.channels.map((ch) => ({ id: ch.id, name: ch.name })) } },
      };
    }
    return undefined;
  }

  /**
   * Update (PUT) or delete a message the bot posted. Teams counts these against the thread's windows like
   * sends, answers 404 ConversationNotFound for an unknown conversation and 404 ActivityNotFoundInConversation
   * for a message that is not in that thread (never posted, or deleted).
   */
  private planEdit(method: "PUT" | "DELETE", base: Pick<Plan, "conversationId" | "tenantId" | "limitKey">, conv: KnownConversation | undefined, activityId: string, body: Json): Plan {
    const plan: Plan = { ...base, route: method === "PUT" ? "update" : "delete", limited: "send", userId: conv?.userId };
    if (!conv) return { ...plan, reject: conversationNotFound() };
    const entry = this.log.findLive(base.conversationId!, activityId);
    if (!entry) {
      return { ...plan, reject: errorReply(404, "ActivityNotFoundInConversation", DEFAULT_MESSAGES.ActivityNotFoundInConversation) };
    }
    if (method === "DELETE") {
      return { ...plan, commit: () => { this.log.delete(entry, this.now()); return { status: 200 }; } };
    }
    if (!body || typeof body !== "object" || Array.isArray(body) || Object.keys(body).length === 0 || (body.type !== undefined && body.type !== "message")) {
      return { ...plan, reject: errorReply(400, "BadArgument", "An update needs a message activity in the body.") };
    }
    return { ...plan, commit: () => { this.log.update(entry, body, this.now()); return { status: 200, body: { id: activityId } }; } };
  }

  private lookup(conversationId: string, body: Json): KnownConversation | undefined {
    const known = this.directory.resolve(conversationId);
    if (known || !this.acceptUnknown) return known;
    const tenantId = body?.conversation?.tenantId ?? body?.channelData?.tenant?.id ?? "unknown";
    return { id: conversationId, tenantId, kind: "personal" };
  }

  private planCreate(body: Json, authorized: boolean): Plan {
    const tenantId: string | undefined = body.tenantId ?? body.channelData?.tenant?.id;
    const channelId: string | undefined = body.channelData?.channel?.id;
    const memberId: string | undefined = body.members?.[0]?.id;
    const plan: Plan = { route: "create", limited: "create", limitKey: `create:${tenantId ?? "unknown"}`, tenantId, conversationId: channelId, userId: memberId };

    if (channelId) {
      const channel = this.directory.resolve(channelId);
      if (!channel && !this.acceptUnknown) return { ...plan, reject: conversationNotFound() };
      if (!body.activity || typeof body.activity !== "object") {
        return { ...plan, reject: errorReply(400, "BadArgument", "Creating a channel thread requires an activity.") };
      }
      const teamId = channel?.teamId ?? body.channelData?.team?.id;
      const tenant = tenantId ?? channel?.tenantId ?? "unknown";
      return {
        // The thread being created is in this channel: the channel's per-thread windows apply.
        ...plan, tenantId: tenant, limitKey: `create:${channelId.split(";")[0]}`,
        commit: () => {
          const activityId = this.nextActivityId();
          const id = `${channelId};messageid=${activityId}`;
          this.directory.register({ id, tenantId: tenant, kind: "channel", teamId });
          this.record(id, activityId, body.activity, tenant, authorized);
          return { status: 201, body: { id, activityId } };
        },
      };
    }

    if (body.isGroup || !Array.isArray(body.members) || body.members.length !== 1 || !memberId) {
      return { ...plan, reject: errorReply(400, "BadArgument", "Bots can create a 1:1 conversation with exactly one member, or a thread in a channel.") };
    }
    const user = this.directory.findUser(memberId, tenantId);
    if (!user && !this.acceptUnknown) {
      return { ...plan, reject: errorReply(400, "BadArgument", "Invalid user identity in provided tenant.") };
    }
    const tenant = tenantId ?? user?.tenantId;
    if (!tenant) return { ...plan, reject: errorReply(400, "BadArgument", "A tenant id is required.") };
    return {
      // Per thread: a 1:1 is the thread with that user, so creating many people's chats is bounded only by
      // the tenant's global rate, while re-creating one person's chat in a loop is throttled.
      ...plan, tenantId: tenant, limitKey: `create:${tenant}:${user?.id ?? memberId}`, userId: user?.id ?? memberId,
      commit: () => {
        const conv = this.directory.personalConversation(tenant, user?.id ?? memberId);
        if (body.activity && typeof body.activity === "object") {
          const activityId = this.nextActivityId();
          this.record(conv.id, activityId, body.activity, tenant, authorized);
          return { status: 201, body: { id: conv.id, activityId } };
        }
        return { status: 201, body: { id: conv.id } };
      },
    };
  }

  // ------------------------------------------------------------------------------------------ handlers

  private deliver(conversationId: string, conv: KnownConversation, activity: Json, authorized: boolean, replyToId?: string): Reply {
    const activityId = this.nextActivityId();
    this.record(conversationId, activityId, activity, conv.tenantId, authorized, replyToId);
    return { status: 201, body: { id: activityId } };
  }

  private record(conversationId: string, activityId: string, activity: Json, tenantId: string | undefined, authorized: boolean, replyToId?: string): void {
    this.log.record({
      conversationId, activityId, at: this.now(), tenantId, authorized,
      ...(replyToId ? { replyToId } : {}), ...(this.faultedCommit ? { faulted: true } : {}),
    }, activity);
  }

  /** Epoch-millisecond-looking ids, like Teams message ids; unique for the emulator's lifetime. */
  private nextActivityId(): string {
    return String(1_700_000_000_000 + ++this.activitySeq);
  }
}

function conversationNotFound(): Reply {
  return errorReply(404, "ConversationNotFound", DEFAULT_MESSAGES.ConversationNotFound);
}

function faultReply(rule: FaultRule): Reply {
  const code = rule.code ?? CODE_BY_STATUS[rule.status] ?? "Error";
  const message = rule.message ?? DEFAULT_MESSAGES[code] ?? `Injected fault (${rule.status}).`;
  const headers = rule.retryAfterSeconds !== undefined ? { "retry-after": String(rule.retryAfterSeconds) } : undefined;
  return errorReply(rule.status, code, message, headers);
}

function internalError(err: unknown): Reply {
  return errorReply(500, "InternalServerError", err instanceof Error ? err.message : "Internal error.");
}
