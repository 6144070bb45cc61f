/**
 * Herald's storage port. Every backend (memory, SQLite, Azure Table Storage) implements `HeraldStore`
 * and passes the same contract suite in test/store/contract.ts.
 *
 * All methods are async so that a network-backed store fits; none of them may read-modify-write a whole
 * collection. Timestamps are ISO-8601 strings (UTC).
 */
import type { ConversationReference } from "botbuilder";
import type { InboxStore } from "./inbox";

// ---------------------------------------------------------------------------------------------- targets

/** Where Herald may post: one conversation it is installed in (or a user's 1:1 chat it created). */
export type TargetKind = "personal" | "groupChat" | "channel";
export type TargetStatus = "active" | "gone";

/** Why a target stopped being usable. The three Teams codes come straight from the connector's error. */
export type GoneReason =
  | "uninstalled"
  | "teamDeleted"
  | "BotNotInConversationRoster"
  | "ConversationBlockedByUser"
  | "ConversationNotFound";

export interface Target {
  /** `_${tenantId}_${conversationId}` — the same key TeamsFx uses, so its stores import unchanged. */
  key: string;
  kind: TargetKind;
  tenantId: string;
  conversationId: string;
  serviceUrl: string;
  /** The full reference botbuilder needs for `continueConversationAsync`. */
  reference: Partial<ConversationReference>;
  teamId?: string;
  teamName?: string;
  channelId?: string;
  /** Teams user id (29:...) for a personal chat. */
  userId?: string;
  aadObjectId?: string;
  name?: string;
  /** UPN or e-mail, lower-cased. */
  upn?: string;
  locale?: string;
  /** IANA zone from the activity's `localTimezone`, e.g. "Europe/Berlin". */
  timeZone?: string;
  /** Display name of whoever installed Herald here, when the install activity says so. */
  installedBy?: string;
  installedAt: string;
  updatedAt: string;
  status: TargetStatus;
  goneReason?: GoneReason;
  goneAt?: string;
}

/** What a writer supplies; the store fills `installedAt`/`updatedAt`/`status`. */
export type TargetInput = Omit<Target, "installedAt" | "updatedAt" | "status" | "goneReason" | "goneAt"> & {
  /** Defaults to now. */
  at?: string;
};

export interface TargetQuery {
  kind?: TargetKind;
  tenantId?: string;
  status?: TargetStatus;
  teamId?: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; absent on the last page. */
  cursor?: string;
}

export interface TargetStore {
  /**
   * Insert or update (merge: a field absent from `input` keeps its stored value). An upsert always makes the
   * target `active` again (re-install or a new message brings a gone target back). Keeps `installedAt`.
   * Returns the stored target and whether it was newly created.
   */
  upsert(input: TargetInput): Promise<{ target: Target; created: boolean }>;
  /**
   * Insert only when the key is absent (TeamsFx's `overwrite: false`). Returns true when it inserted.
   * Must be safe under concurrency: two racing calls insert once.
   */
  insertIfAbsent(input: TargetInput): Promise<boolean>;
  get(key: string): Promise<Target | undefined>;
  /** Hard delete (uninstall). Returns true when something was deleted. */
  remove(key: string): Promise<boolean>;
  /** Keep the row but stop sending there. No-op (false) when absent. */
  markGone(key: string, reason: GoneReason, at?: string): Promise<boolean>;
  /** Stable order by key. `limit` 1..1000. */
  list(query: TargetQuery, limit: number, cursor?: string): Promise<Page<Target>>;
  count(query: TargetQuery): Promise<number>;
}

// ---------------------------------------------------------------------------------------------- members

/** A person Herald has seen in a team or group chat roster (or in a personal chat). */
export interface Member {
  tenantId: string;
  /** Teams user id, "29:..." */
  userId: string;
  aadObjectId?: string;
  /** UPN or e-mail, lower-cased. */
  upn?: string;
  email?: string;
  name?: string;
  /** Service URL of the conversation where Herald saw them (needed to create a 1:1 chat). */
  serviceUrl: string;
  /** The user's 1:1 conversation with Herald, once known (install, or created by the engine). */
  personalConversationId?: string;
  timeZone?: string;
  /**
   * Teams said the person's 1:1 chat with Herald is gone (they blocked or uninstalled Herald): audiences that reach
   * people (teamMembers, users) skip them until they install Herald or message it again (which clears this).
   */
  personalChatGone?: GoneReason;
  personalChatGoneAt?: string;
  updatedAt: string;
}

export type MemberInput = Omit<Member, "updatedAt" | "personalChatGone" | "personalChatGoneAt">;

/** How a caller names a person. */
export type UserRef = { aadObjectId: string } | { upn: string } | { userId: string };

export interface MemberStore {
  /** Upsert members and record that they belong to `sourceKey` (a target key: team or group chat). Merge semantics. */
  upsertMembers(sourceKey: string, members: MemberInput[]): Promise<void>;
  /** Forget the membership (not the person) of these users in `sourceKey`. */
  removeMembership(sourceKey: string, userIds: string[]): Promise<void>;
  /** Forget every membership of `sourceKey` (team deleted / uninstalled). */
  removeSource(sourceKey: string): Promise<void>;
  /** Indexed lookup — never a scan. `tenantId` narrows when given. UPN match is case-insensitive. */
  find(ref: UserRef, tenantId?: string): Promise<Member | undefined>;
  get(tenantId: string, userId: string): Promise<Member | undefined>;
  /** Members of a team/group chat, stable order by userId. */
  listBySource(sourceKey: string, limit: number, cursor?: string): Promise<Page<Member>>;
  countBySource(sourceKey: string): Promise<number>;
  /** Remember the 1:1 conversation id created for a user so it is created once and reused (clears a gone mark). */
  setPersonalConversation(tenantId: string, userId: string, conversationId: string): Promise<void>;
  /**
   * Teams answered that the person's 1:1 chat is gone: remember it on the person, so people-audiences skip them.
   * Cleared by any later upsert that carries a personalConversationId (a new install, a message) and by
   * setPersonalConversation. False when the person is unknown.
   */
  markPersonalChatGone(tenantId: string, userId: string, reason: GoneReason, at?: string): Promise<boolean>;
  /**
   * People of a tenant matching `text` (see search-words.ts: every query word starts one of their words), by
   * name, at most `limit` (1..50). An index lookup, never a scan; a query shorter than 2 characters finds nobody.
   */
  search(tenantId: string, text: string, limit: number): Promise<Member[]>;
  /**
   * Erasure: forget the person — their row and their lookups by aadObjectId, upn and userId. Callers remove the
   * person's memberships first (removeMembership per team / chat); a backend may also remove any left over.
   * Returns true when the person was known.
   */
  removePerson(tenantId: string, userId: string): Promise<boolean>;
}

// ------------------------------------------------------------------------------------ notifications/jobs

export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";
export type DeliveryStatus = "pending" | "sending" | "sent" | "failed" | "gone" | "skipped" | "cancelled";

/**
 * Working hours: a delivery is sent only while the recipient's window is open in their own time zone (the zone
 * Teams reported for them, else HERALD_DEFAULT_TIMEZONE); outside it, it is held until the next opening.
 */
export interface DeliveryWindow {
  /** "HH:MM", 24-hour, local to the recipient. */
  start: string;
  /** "HH:MM", after `start` (a window does not cross midnight). */
  end: string;
  days: Weekday[];
}

export type Weekday = "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun";

/**
 * What happened to a delivered copy (a `sent` delivery's message in Teams) after it was sent. Absent: unchanged
 * since it was posted or last updated. "updating"/"deleting" are the durable marks written before the request
 * (a crash leaves them; the next owner redoes that request — the only possible double update).
 */
export type CopyState = "updating" | "deleting" | "deleted" | "updateFailed" | "deleteFailed" | "gone";

export interface NotificationContent {
  title: string;
  text: string;
  url?: string;
  card?: { template: string; data: Record<string, unknown> };
  /** Adds an Acknowledge button (Action.Execute, verb "acknowledge") to the card. */
  acknowledge?: boolean;
}

/**
 * The deliveries of one delivery partition within a job (src/cluster/partitions.ts): a job's deliveries are stored
 * grouped by the partition of their tenant, so each slice is the contiguous seq range [firstSeq, firstSeq + count)
 * and only the owner of that partition sends it.
 */
export interface JobSlice {
  partition: number;
  firstSeq: number;
  count: number;
}

export interface Job {
  id: string;
  idempotencyKey?: string;
  status: JobStatus;
  content: NotificationContent;
  /** The audience as requested (JSON), for the report. */
  audience: Record<string, unknown>;
  /** Opt-out category (schedule or topic name); undefined = general. */
  category?: string;
  /** Who or what triggered it ("api", "schedule:daily-digest", ...). */
  triggeredBy: string;
  /** The authenticated API caller ("key:<name>", "app:<client id>"); absent for schedules and the CLI. */
  createdBy?: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  total: number;
  /** Count of 429 answers while sending this job. */
  throttleRetries: number;
  error?: string;
  /** One per delivery partition the audience touches, in seq order. Empty for a job without deliveries. */
  slices: JobSlice[];
  /** Bumped by every update of `content` (PATCH); delivered copies showing an older version are updated in place. */
  contentVersion: number;
  /** "reminder": sent again to those who had not acknowledged `parentId`. Absent: a notification. */
  kind?: "reminder";
  parentId?: string;
  /** Working hours of the recipients (each in their own zone). */
  deliverWithin?: DeliveryWindow;
  /** Set when the notification was retracted: pending deliveries cancelled, delivered copies deleted. */
  retractedAt?: string;
}

/**
 * One recipient of one job. `recipientKey` is a target key for conversation audiences, or
 * `user:${tenantId}:${userId}` for a 1:1 to a person whose personal conversation may not exist yet.
 */
export interface Delivery {
  jobId: string;
  recipientKey: string;
  /** Position in the job; deliveries are claimed in this order. */
  seq: number;
  status: DeliveryStatus;
  /** Everything the engine needs to send without another lookup. */
  recipient: DeliveryRecipient;
  attempts: number;
  throttled: number;
  activityId?: string;
  /** Why it failed / was skipped / is gone, human-readable with the Teams code when there is one. */
  reason?: string;
  /** Epoch ms before which it must not be retried. */
  notBefore?: number;
  /** Pending and held for the recipient's working hours until `notBefore` (deliverWithin). */
  held?: boolean;
  /** The content version the delivered copy shows (recorded when it is sent, and by each update in place). */
  contentVersion?: number;
  /** What happened to the delivered copy since (update, retract); absent while unchanged. */
  copy?: CopyState;
  /** Why the last update or delete of the copy failed, or what it did ("updated twice: …"). */
  copyReason?: string;
  /** When and by whom (display name) the Acknowledge button was pressed. */
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  updatedAt: string;
}

export interface DeliveryRecipient {
  tenantId: string;
  serviceUrl: string;
  /** Existing conversation to post into (absent when a 1:1 must be created first). */
  conversationId?: string;
  /** For creating a 1:1 conversation, or for opt-out / time-zone lookups. */
  userId?: string;
  aadObjectId?: string;
  /** For a new thread in a channel: the channel id to create the conversation in. */
  newThreadInChannel?: string;
  teamId?: string;
  /** Target key this delivery came from, when it came from one (for pruning). */
  targetKey?: string;
  /** Install Herald for this person through Microsoft Graph (Entra object id or UPN) before sending (installIfMissing). */
  installFor?: string;
  timeZone?: string;
  name?: string;
}

export type DeliveryInput = Pick<Delivery, "recipientKey" | "recipient"> & { status?: "pending" | "skipped"; reason?: string };

export interface DeliveryCounts {
  total: number;
  pending: number;
  sending: number;
  sent: number;
  failed: number;
  gone: number;
  skipped: number;
  cancelled: number;
}

export interface DeliveryPatch {
  status?: DeliveryStatus;
  attemptsIncrement?: number;
  throttledIncrement?: number;
  activityId?: string;
  reason?: string;
  notBefore?: number | null;
  /** Also update the recipient (e.g. the conversation id of a newly created 1:1). */
  recipient?: DeliveryRecipient;
  held?: boolean;
  contentVersion?: number;
  /** null: the copy is unchanged again (live). */
  copy?: CopyState | null;
  copyReason?: string | null;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
}

/** A conditional write: only while the delivery matches (status and, when given, its copy state; null = unchanged). */
export interface DeliveryExpectation {
  status?: DeliveryStatus;
  copy?: CopyState | null;
}

/** Narrows a listing of deliveries (AND of what is given). */
export interface DeliveryFilter {
  /** Copies showing a content version below this (a copy without a version shows version 1). */
  contentVersionBelow?: number;
  /** Copies in one of these states (null = unchanged). */
  copy?: ReadonlyArray<CopyState | null>;
  acknowledged?: boolean;
  held?: boolean;
}

/** Counts beyond statuses, kept like them (a point-read affair in every backend, never a scan of a big job). */
export interface CopyCounts {
  /** Deliveries whose recipient pressed Acknowledge. */
  acknowledged: number;
  /** Pending deliveries held for the recipients' working hours. */
  held: number;
  /** Sent deliveries by the content version their copy shows ("1", "2", …). */
  versions: Record<string, number>;
  /** Sent deliveries by what happened to their copy since (absent: unchanged). */
  copies: Partial<Record<CopyState, number>>;
}

export type NewJob = Omit<Job, "total" | "throttleRetries" | "updatedAt" | "slices" | "contentVersion"> & { slices?: JobSlice[]; contentVersion?: number };

export type JobPatch = Partial<Pick<Job, "status" | "startedAt" | "retractedAt">> & {
  throttleRetriesIncrement?: number;
  /** null clears it (a finished job running again: retry). */
  finishedAt?: string | null;
  error?: string | null;
  /** New content; the store bumps `contentVersion` by one in the same write. */
  content?: NotificationContent;
};

/** A seq range [from, to) within a job. */
export interface SeqRange {
  from: number;
  to: number;
}

export interface JobStore {
  /**
   * Persist a job and all its deliveries, and one work item ("job", job.id) per slice, atomically as far as the
   * backend allows (the job itself is written last: its existence means complete). When `job.idempotencyKey` is
   * set and a job with that key exists, nothing is written and the existing job is returned with
   * `created: false`. Safe under concurrency. Deliveries get `seq` 0..n-1 in the given order; `slices` must cover
   * them (absent = one slice in partition 0).
   */
  createJob(job: NewJob, deliveries: DeliveryInput[]): Promise<{ job: Job; created: boolean }>;
  getJob(id: string): Promise<Job | undefined>;
  findByIdempotencyKey(key: string): Promise<Job | undefined>;
  /** Newest first. */
  listJobs(limit: number, cursor?: string): Promise<Page<Job>>;
  /** Jobs whose status is queued or running (resumed at start). */
  listUnfinishedJobs(): Promise<Job[]>;
  /**
   * Apply the patch. With `onlyIf`, only when the job's status is one of those (e.g. finish a job only while it
   * is still running, so a cancel is never overwritten). True when the job exists and was changed.
   */
  updateJob(id: string, patch: JobPatch, onlyIf?: JobStatus[]): Promise<boolean>;
  /**
   * Deliveries with the given statuses in `seq` order, starting after `afterSeq`, before `beforeSeq` when given,
   * narrowed by `filter` (up to `limit` matching ones).
   */
  listDeliveriesByStatus(jobId: string, statuses: DeliveryStatus[], limit: number, afterSeq?: number, beforeSeq?: number, filter?: DeliveryFilter): Promise<Delivery[]>;
  /** All deliveries (optionally by status and filter), paged, in seq order — for the report endpoint. */
  listDeliveries(jobId: string, limit: number, cursor?: string, status?: DeliveryStatus, filter?: DeliveryFilter): Promise<Page<Delivery>>;
  getDelivery(jobId: string, recipientKey: string): Promise<Delivery | undefined>;
  /**
   * Apply the patch. With `expect`, only while the delivery is in that status (an atomic check-and-set: the
   * engine marks "sending" only a delivery still "pending", so a cancel or another owner wins cleanly). True
   * when the delivery exists and was changed.
   */
  updateDelivery(jobId: string, recipientKey: string, patch: DeliveryPatch, expect?: DeliveryStatus | DeliveryExpectation): Promise<boolean>;
  /**
   * Move every delivery in one status to another (cancel: pending → cancelled), within `range` when given.
   * `resetAttempts` starts their attempt and throttle counts again (a retry of failed deliveries). Returns how many moved.
   */
  transitionAll(jobId: string, from: DeliveryStatus, to: DeliveryStatus, reason?: string, range?: SeqRange, options?: { resetAttempts?: boolean }): Promise<number>;
  counts(jobId: string): Promise<DeliveryCounts>;
  /** Retention: finished jobs (completed, failed, cancelled) that finished before `before` (ISO), at most `limit`. */
  listFinishedBefore(before: string, limit: number): Promise<Job[]>;
  /** Retention: remove up to `batch` deliveries of a finished job (with their index and counter rows); how many went. */
  purgeDeliveries(jobId: string, batch: number): Promise<number>;
  /** Retention: remove a finished job once its deliveries are gone (its idempotency key is free again). */
  removeJob(jobId: string): Promise<boolean>;
  /** Acknowledged, held, and delivered copies by version and state: counted like `counts`, never by a scan. */
  copyCounts(jobId: string): Promise<CopyCounts>;
}

// ------------------------------------------------------------------------------------------------- work

/**
 * Work that only the owner of a delivery partition may do (src/cluster/): send a job's slice, read a roster.
 * Items stay until their work is done, so an owner that dies leaves them for the next one; owners poll the
 * items of their partitions (the doorbell for jobs created on another instance).
 */
export interface WorkItem {
  partition: number;
  /**
   * "job": send a job's slice (data.notBefore: not before then — every pending delivery is held for working hours);
   * "roster": read a conversation's members; "update": bring a job's delivered copies to its content version;
   * "retract": delete a job's delivered copies.
   */
  kind: "job" | "roster" | "update" | "retract";
  /** Unique within (partition, kind): the job id, the conversation id. */
  id: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface WorkStore {
  /** Insert or replace. */
  put(item: Omit<WorkItem, "createdAt"> & { createdAt?: string }): Promise<void>;
  /** Items of these partitions (all partitions when absent), oldest first within a partition. */
  list(partitions?: readonly number[]): Promise<WorkItem[]>;
  /** True when something was removed. */
  remove(partition: number, kind: WorkItem["kind"], id: string): Promise<boolean>;
  /**
   * Remove the item only if it is still the one given (same createdAt and data): a handler that finished never
   * removes an item that was replaced while it ran (a newer update of the same job). True when removed.
   */
  removeIfUnchanged(item: WorkItem): Promise<boolean>;
}

// ------------------------------------------------------------------------------------------ preferences

/** `category` "*" means every notification. */
export interface OptOut {
  tenantId: string;
  /** AAD object id when known, else Teams user id — callers try both. */
  userKey: string;
  category: string;
  at: string;
}

export interface PreferenceStore {
  optOut(tenantId: string, userKey: string, category: string): Promise<void>;
  /** `category` "*" removes every opt-out of that user. */
  optIn(tenantId: string, userKey: string, category: string): Promise<void>;
  /** True when the user opted out of this category or of everything. */
  isOptedOut(tenantId: string, userKeys: string[], category: string | undefined): Promise<boolean>;
  /**
   * Which of these keys (people or conversations of one tenant) opted out of this category or of everything:
   * the engine asks once per claimed chunk instead of once per delivery.
   */
  optedOutAmong(tenantId: string, userKeys: readonly string[], category: string | undefined): Promise<Set<string>>;
  list(tenantId: string, userKey: string): Promise<OptOut[]>;
}

// -------------------------------------------------------------------------------------------- schedules

export interface ScheduleRunStore {
  /**
   * Claim a schedule slot (e.g. scheduleId "daily", slot "2026-11-27T09:00:00.000Z|Europe/Berlin").
   * Returns true exactly once per (scheduleId, slot), across processes and restarts.
   */
  claimSlot(scheduleId: string, slot: string, jobId?: string): Promise<boolean>;
  lastSlot(scheduleId: string): Promise<{ slot: string; at: string } | undefined>;
}

// ------------------------------------------------------------------------------------------------ store

export interface HeraldStore {
  readonly kind: "memory" | "sqlite" | "azure-table";
  targets: TargetStore;
  members: MemberStore;
  jobs: JobStore;
  work: WorkStore;
  preferences: PreferenceStore;
  schedules: ScheduleRunStore;
  /** Who received what, per person ("My notifications"); see inbox.ts. */
  inbox: InboxStore;
  /** Cheap round trip; throws when the store is unusable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown at open when the store exists but cannot be read: Herald must refuse to start, never start empty. */
export class StoreUnreadableError extends Error {
  override readonly name = "StoreUnreadableError";
  constructor(readonly location: string, cause: unknown) {
    super(`Herald's store at ${location} cannot be read (${cause instanceof Error ? cause.message : String(cause)}). ` +
      `Refusing to start rather than replacing it with an empty one; restore it from backup or point HERALD_STORE elsewhere.`);
  }
}

export function targetKey(tenantId: string | undefined, conversationId: string): string {
  return `_${tenantId}_${conversationId}`;
}
