/**
 * Shapes shared by the connector emulator, its seed generator, the fault injector and the activity driver.
 * Wire shapes (what goes over HTTP) follow the Bot Framework v3 / Teams schemas.
 */

// ------------------------------------------------------------------------------------------------ seed

/** A person in a seeded tenant. */
export interface SeededUser {
  tenantId: string;
  /** Teams user id, "29:1..." */
  id: string;
  aadObjectId: string;
  name: string;
  givenName: string;
  surname: string;
  /** "user<i>@<domain>", lower-case. */
  userPrincipalName: string;
  email: string;
  /** The stable 1:1 conversation id between this user and the bot ("a:1..."), known to the emulator. */
  personalConversationId: string;
  /** IANA zone the driver puts in `localTimezone`. */
  timeZone: string;
  locale: string;
  country: string;
}

export interface SeededChannel {
  /** The General channel's id equals the team id. */
  id: string;
  /** Absent for General, as Teams returns it. */
  name?: string;
}

export interface SeededTeam {
  tenantId: string;
  /** "19:...@thread.tacv2" — also the General channel's id. */
  id: string;
  name: string;
  aadGroupId: string;
  channels: SeededChannel[];
  /** Member user ids (29:...) in roster order. */
  memberIds: string[];
}

export interface SeededGroupChat {
  tenantId: string;
  /** "19:...@thread.v2" */
  id: string;
  topic?: string;
  memberIds: string[];
}

export interface SeededTenant {
  tenantId: string;
  users: SeededUser[];
  teams: SeededTeam[];
  groupChats: SeededGroupChat[];
}

export interface TenantSpec {
  tenantId: string;
  /** Number of users. Grows automatically to cover the largest team / group chat. */
  users: number;
  /** UPN domain; default `${tenantId}.example`. */
  domain?: string;
  teams?: Array<{ id?: string; name: string; memberCount: number; channels?: number; aadGroupId?: string }>;
  groupChats?: Array<{ memberCount: number; topic?: string }>;
  /** Zones assigned to users round-robin; default a spread of real IANA zones starting with Europe/Berlin. */
  timeZones?: string[];
}

// ---------------------------------------------------------------------------------------------- faults

export type FaultRoute = "send" | "create" | "members" | "update" | "delete" | "teams" | "any";

export interface FaultRule {
  match?: { route?: FaultRoute; conversationId?: string; userId?: string; tenantId?: string };
  status: number;
  /** Teams error code, e.g. "BotNotInConversationRoster", "ConversationBlockedByUser", "ConversationNotFound". */
  code?: string;
  message?: string;
  /** Sent as `Retry-After`; omit for a 429 without the header. */
  retryAfterSeconds?: number;
  /** How many requests it hits; default unlimited. */
  times?: number;
  /** 0..1, drawn from the emulator's seeded PRNG so runs are reproducible. Default 1. */
  probability?: number;
  /** Record the activity as delivered but still answer with the error (a 5xx after Teams posted it). */
  deliverAnyway?: boolean;
}

// ----------------------------------------------------------------------------------------- inspection

export interface DeliveredActivity {
  conversationId: string;
  activityId: string;
  /** The activity as posted (absent when the emulator runs with `recordActivities: false`). */
  activity?: Record<string, unknown>;
  /** Epoch ms. */
  at: number;
  tenantId?: string;
  replyToId?: string;
  /** Whether the request carried an Authorization header (the token itself is never kept). */
  authorized: boolean;
  /** How many times it was updated (PUT) since: `history.length`. */
  updates: number;
  /** Each accepted update, oldest first; `activity` holds the latest content. */
  history: ActivityUpdate[];
  /** Epoch ms of the accepted DELETE; the message stays listed in `delivered()`, flagged. */
  deletedAt?: number;
  /** True when a fault answered with an error although the activity was recorded (`deliverAnyway`). */
  faulted?: boolean;
}

/** One accepted update (PUT) of a message. */
export interface ActivityUpdate {
  /** Epoch ms. */
  at: number;
  /** The new content (absent when the emulator runs with `recordActivities: false`). */
  activity?: Record<string, unknown>;
}

export interface EmulatorStats {
  /** Every request on the /v3 API. */
  requests: number;
  byRoute: Record<string, number>;
  /** Every 429 answered: rate-limited and injected. */
  throttled: number;
  /** 429s from the rate limiter only. */
  rateLimited: number;
  faultsInjected: number;
  /** Highest number of /v3 requests in flight at once. */
  maxConcurrent: number;
  /** True once any /v3 request carried an Authorization header. */
  authHeaderSeen: boolean;
  requestsWithAuth: number;
  delivered: number;
  /** Accepted updates (PUT), over all messages. */
  updated: number;
  /** Accepted deletions. */
  deleted: number;
}

export interface EmulatorOptions {
  /** Fixed latency added to every /v3 response (ms). Default 0. */
  latencyMs?: number;
  /** Extra uniformly random latency 0..latencyJitterMs (seeded PRNG). */
  latencyJitterMs?: number;
  /** Enforce Teams' rate limits. Default true. */
  limits?: boolean;
  /** Multiplies every rate-limit window and Retry-After; 0.1 makes them 10x shorter. Default 1. */
  timeScale?: number;
  /** Global requests per second per app per tenant. Default 50. */
  globalPerSecond?: number;
  /** The bot's app id (recipient "28:<appId>"). */
  appId?: string;
  /** Accept sends/reads for conversation ids nobody seeded or registered. Default false. */
  acceptUnknownConversations?: boolean;
  /** Seed for the PRNG behind fault probability and latency jitter. Default 1. */
  seed?: number;
  /** Keep activity bodies in `delivered()`. Turn off for very large benchmarks to save memory. Default true. */
  recordActivities?: boolean;
  /** Injectable clock (epoch ms) for the rate windows; defaults to Date.now (sinon fake timers work with it). */
  now?: () => number;
}

/** A conversation the emulator knows (seeded, created or registered by a test). */
export interface KnownConversation {
  id: string;
  tenantId: string;
  kind: "personal" | "groupChat" | "channel";
  /** For personal chats: the user. */
  userId?: string;
  /** For channels and threads in them. */
  teamId?: string;
  /** Member ids when not derived from the team. */
  memberIds?: string[];
}
