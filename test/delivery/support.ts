/**
 * Shared fixtures for the delivery tests: an emulator-backed Teams, a store seeded with personal installs,
 * jobs built from them, and an engine wired the production way (BotFrameworkConnector on a CloudAdapter).
 */
import { randomUUID } from "node:crypto";
import type { Activity } from "botbuilder";
import { DeliveryEngine, type DeliveryEngineOptions } from "../../src/delivery/engine";
import { BotFrameworkConnector, createCloudAdapter, type TeamsConnector } from "../../src/delivery/teams-connector";
import { ConnectorEmulator } from "../../src/emulator";
import type { EmulatorOptions, SeededTenant, SeededUser } from "../../src/emulator";
import { silentLogger } from "../../src/logger";
import { targetKey, type DeliveryInput, type DeliveryRecipient, type HeraldStore, type Job } from "../../src/store/types";

export function render(job: Job, recipient: DeliveryRecipient): Partial<Activity> {
  return { type: "message", text: `${job.content.title}: ${job.content.text}`, channelData: { herald: { jobId: job.id, to: recipient.conversationId } } };
}

export async function startEmulator(options: EmulatorOptions): Promise<{ emulator: ConnectorEmulator; serviceUrl: string }> {
  const emulator = new ConnectorEmulator(options);
  const serviceUrl = await emulator.start();
  return { emulator, serviceUrl };
}

export function botConnector(): TeamsConnector {
  return new BotFrameworkConnector({ adapter: createCloudAdapter({}), botAppId: "" });
}

export function newEngine(store: HeraldStore, connector: TeamsConnector, extra: Partial<DeliveryEngineOptions> = {}): DeliveryEngine {
  return new DeliveryEngine({
    store, connector, render, logger: silentLogger(), progressIntervalMs: 0,
    backoff: { baseMs: 20, maxMs: 200, jitter: 0.5 }, ...extra,
  });
}

/** A personal-installation recipient for a seeded user, with its target stored (so pruning can be checked). */
export async function installPersonal(store: HeraldStore, serviceUrl: string, user: SeededUser): Promise<DeliveryInput> {
  const key = targetKey(user.tenantId, user.personalConversationId);
  await store.targets.upsert({
    key, kind: "personal", tenantId: user.tenantId, conversationId: user.personalConversationId, serviceUrl,
    reference: { serviceUrl, conversation: { id: user.personalConversationId, tenantId: user.tenantId, conversationType: "personal", isGroup: false, name: "" } },
    userId: user.id, aadObjectId: user.aadObjectId, name: user.name,
  });
  return {
    recipientKey: key,
    recipient: {
      tenantId: user.tenantId, serviceUrl, conversationId: user.personalConversationId, userId: user.id,
      aadObjectId: user.aadObjectId, targetKey: key, name: user.name,
    },
  };
}

export async function installAll(store: HeraldStore, serviceUrl: string, tenant: SeededTenant): Promise<DeliveryInput[]> {
  const out: DeliveryInput[] = [];
  for (const u of tenant.users) out.push(await installPersonal(store, serviceUrl, u));
  return out;
}

/** A `user:` recipient: a person whose 1:1 chat may not exist yet. */
export function userRecipient(serviceUrl: string, user: SeededUser): DeliveryInput {
  return {
    recipientKey: `user:${user.tenantId}:${user.id}`,
    recipient: { tenantId: user.tenantId, serviceUrl, userId: user.id, aadObjectId: user.aadObjectId, name: user.name },
  };
}

export async function createJob(store: HeraldStore, deliveries: DeliveryInput[], extra: Partial<Job> = {}): Promise<Job> {
  const { job } = await store.jobs.createJob({
    id: randomUUID(), status: "queued", content: { title: "Heads up", text: "Deploy at 5" }, audience: { kind: "all" },
    triggeredBy: "test", createdAt: new Date().toISOString(), ...extra,
  }, deliveries);
  return job;
}

/** Number of activities delivered per conversation id. */
export function deliveredCounts(emulator: ConnectorEmulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of emulator.delivered()) counts.set(d.conversationId, (counts.get(d.conversationId) ?? 0) + 1);
  return counts;
}

export interface RecordedCall {
  op: "send" | "create" | "thread" | "members" | "update" | "delete" | "member";
  /** Conversation posted to (send, update, delete), user (create), channel (thread), conversation (members, member). */
  target: string;
  at: number;
  /** Filled when the call settles. */
  result?: "ok" | "error";
  settledAt?: number;
}

/** A TeamsConnector seam that records every call the engine makes (then forwards it). */
export class RecordingConnector implements TeamsConnector {
  readonly calls: RecordedCall[] = [];
  constructor(private readonly inner: TeamsConnector) {}

  callsTo(target: string, op?: RecordedCall["op"]): RecordedCall[] {
    return this.calls.filter((c) => c.target === target && (!op || c.op === op));
  }

  private async track<T>(op: RecordedCall["op"], target: string, call: () => Promise<T>): Promise<T> {
    const entry: RecordedCall = { op, target, at: Date.now() };
    this.calls.push(entry);
    try {
      const value = await call();
      entry.result = "ok";
      return value;
    } catch (err) {
      entry.result = "error";
      throw err;
    } finally {
      entry.settledAt = Date.now();
    }
  }

  sendActivity(...args: Parameters<TeamsConnector["sendActivity"]>) {
    return this.track("send", args[0].conversationId, () => this.inner.sendActivity(...args));
  }
  createPersonalConversation(...args: Parameters<TeamsConnector["createPersonalConversation"]>) {
    return this.track("create", args[2], () => this.inner.createPersonalConversation(...args));
  }
  createChannelThread(...args: Parameters<TeamsConnector["createChannelThread"]>) {
    return this.track("thread", args[3], () => this.inner.createChannelThread(...args));
  }
  getPagedMembers(...args: Parameters<TeamsConnector["getPagedMembers"]>) {
    return this.track("members", args[2], () => this.inner.getPagedMembers(...args));
  }
  updateActivity(...args: Parameters<TeamsConnector["updateActivity"]>) {
    return this.track("update", args[0].conversationId, () => this.inner.updateActivity(...args));
  }
  deleteActivity(...args: Parameters<TeamsConnector["deleteActivity"]>) {
    return this.track("delete", args[0].conversationId, () => this.inner.deleteActivity(...args));
  }
  getMember(...args: Parameters<TeamsConnector["getMember"]>) {
    return this.track("member", args[2], () => this.inner.getMember(...args));
  }
}
