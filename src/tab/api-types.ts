/**
 * The tab's HTTP API as both sides see it: the server (src/tab/*-routes.ts) answers with these shapes, the
 * browser code (src/tab/web) reads them. Types only, no imports, so the web build can include this file.
 */

export type PlaceKind = "personal" | "groupChat" | "channel";
export type JobStatus = "queued" | "running" | "completed" | "failed" | "cancelled";
export type DeliveryStatus = "pending" | "sending" | "sent" | "failed" | "gone" | "skipped" | "cancelled";

export interface Me {
  oid: string;
  tid: string;
  name?: string;
  upn?: string;
  isSender: boolean;
  /** "sso": a Teams SSO token; "local": `?as=` on loopback without BOT_ID. */
  signedInWith: "sso" | "local";
}

export interface InboxItem {
  /** Unique per received notification and place. */
  id: string;
  jobId: string;
  title: string;
  category: string;
  sentAt: string;
  url?: string;
  triggeredBy: string;
  place: { kind: PlaceKind; name?: string; teamId?: string; channelId?: string; conversationId?: string };
}

export interface Page<T> {
  items: T[];
  cursor?: string;
}

export interface Preferences {
  /** True when the person stopped everything ("stop" in chat). */
  stoppedEverything: boolean;
  /** Every category the person was sent or stopped, with whether it is stopped. */
  categories: Array<{ category: string; stopped: boolean }>;
}

export interface Counts {
  total: number;
  sent: number;
  failed: number;
  gone: number;
  skipped: number;
  pending: number;
  cancelled: number;
  throttleRetries: number;
}

export interface NotificationProgress {
  id: string;
  status: JobStatus;
  title: string;
  category?: string;
  triggeredBy: string;
  audience: Record<string, unknown>;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  counts: Counts;
  /** Settled deliveries (everything but pending) over the total, 0..1. */
  done: number;
  /** Deliveries settled per second since sending started. */
  ratePerSecond?: number;
  /** Seconds until the rest is settled at that rate (running jobs only). */
  etaSeconds?: number;
}

export interface DeliveryRow {
  recipientKey: string;
  /** A person's or conversation's name, when Herald knows it. */
  recipient: string;
  kind: "person" | "groupChat" | "channel";
  status: DeliveryStatus;
  reason?: string;
  attempts: number;
  updatedAt: string;
}

export interface Person {
  aadObjectId?: string;
  userId: string;
  name?: string;
  upn?: string;
}

export interface Conversation {
  /** Target key, usable in a `conversations` audience. */
  key: string;
  kind: "groupChat" | "channel";
  name?: string;
  teamId?: string;
}

export interface Channel {
  id: string;
  name: string;
}

/** What the composer sends: the API's notification request (README "Sending notifications"). */
export interface ComposeRequest {
  title: string;
  text: string;
  url?: string;
  category?: string;
  card?: { template: string; data: Record<string, unknown> };
  audience?: Record<string, unknown>;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}
