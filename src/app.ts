/**
 * Builds a whole Herald from its configuration: store, bot, delivery engine, triggers, HTTP server.
 * `src/index.ts` runs it as a process; tests build one in-process with port 0 and their own store.
 */
import type { AddressInfo } from "node:net";
import { TeamsInfo } from "botbuilder";
import { BotBuilderCloudAdapter } from "@microsoft/teamsfx";
import type { HeraldConfig } from "./config";
import type { Logger } from "./logger";
import type { EntraValidate } from "./api/auth";
import { createServer } from "./api/server";
import { EntraTokenValidator } from "./auth/entra-token";
import { createActivityEndpoint } from "./bot/activity-endpoint";
import { createCloudAdapter } from "./bot/adapter";
import { HeraldBot } from "./bot/herald-bot";
import { createRosterSync, rosterWorkItem } from "./bot/roster-sync";
import { TeamsFxReferenceStore } from "./bot/teamsfx-reference-store";
import { newInstanceId, openOwnership } from "./cluster/open-ownership";
import type { PartitionOwnership } from "./cluster/ownership";
import { renderCopy } from "./cards/notification-card";
import { AudienceResolver, type PersonalChatInstaller } from "./delivery/audience";
import type { DeliveryObserver } from "./delivery/delivery-events";
import { DeliveryEngine, type DeliveryEngineOptions } from "./delivery/engine";
import { NotificationChanges } from "./delivery/notification-changes";
import { NotificationService } from "./delivery/notification-service";
import { Retention, type RetentionOptions } from "./delivery/retention";
import { BotFrameworkConnector } from "./delivery/teams-connector";
import { openStore, parseStoreSpec } from "./store/open";
import type { HeraldStore, Target } from "./store/types";
import { startSchedules, type RunningSchedules } from "./triggers/start-schedules";
import { createGraphAppInstaller } from "./graph/create-installer";
import { createLocalTelemetry, heraldInstruments, observeBacklog, traceApiRequests, traceBotTurns, type Telemetry } from "./telemetry";
import { InboxRecorder } from "./inbox/inbox-recorder";
import { mountTab } from "./tab";

/** Teams' public Bot Connector endpoint, for chats created through Graph before any activity named one. */
export const TEAMS_GLOBAL_SERVICE_URL = "https://smba.trafficmanager.net/teams/";

export interface HeraldOverrides {
  store?: HeraldStore;
  /** How this instance shares delivery partitions (default: from HERALD_STORE). */
  ownership?: PartitionOwnership;
  engine?: Partial<DeliveryEngineOptions>;
  installer?: PersonalChatInstaller;
  /** Extra listeners on the delivery engine (tests). */
  observers?: DeliveryObserver[];
  /** Retention's clock and pacing (tests). */
  retention?: Partial<Pick<RetentionOptions, "clock" | "intervalMs" | "batch" | "pauseMs">>;
  /** Upper bound on fetching the Bot Framework OpenID metadata for one request (default 10 s). */
  inboundAuthTimeoutMs?: number;
  /** Where metrics and traces go (src/index.ts: startTelemetry); default: this Herald's own, read at /api/metrics. */
  telemetry?: Telemetry;
}

export interface Herald {
  store: HeraldStore;
  bot: HeraldBot;
  engine: DeliveryEngine;
  ownership: PartitionOwnership;
  retention?: Retention;
  notifications: NotificationService;
  /** Update, retract, retry and remind (recorded here; the partitions' owners do the Teams work). */
  changes: NotificationChanges;
  /** Writes sent deliveries into people's inboxes ("My notifications") in the background. */
  inbox: InboxRecorder;
  /** Listens on config.port (0 = any free port) and resumes unfinished jobs; returns the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export async function createHerald(config: HeraldConfig, logger: Logger, overrides: HeraldOverrides = {}): Promise<Herald> {
  const spec = parseStoreSpec(config.store, config.tablePrefix);
  const store = overrides.store ?? (await openStore(spec, logger));
  const telemetry = overrides.telemetry ?? createLocalTelemetry();
  const instruments = heraldInstruments(telemetry);
  const adapter = createCloudAdapter(config, logger);
  const inbox = new InboxRecorder({ store, logger });
  // TeamsFx's ConversationBot installs its notification middleware (reference capture) on the adapter.
  new BotBuilderCloudAdapter.ConversationBot({
    adapter,
    notification: { enabled: true, store: new TeamsFxReferenceStore(store.targets), botAppId: config.botId },
  });
  let engine: DeliveryEngine | undefined;
  const ownership = overrides.ownership ?? (await openOwnership({
    spec, store, instanceId: newInstanceId(), partitionCount: config.partitionCount, leaseSeconds: config.leaseSeconds, logger,
    sendRate: () => engine?.stats().requestsPerSec ?? 0,
  }));
  const rosterSync = createRosterSync(store, {
    roster: (...page) => engine!.getPagedMembers(...page),
    member: (...member) => engine!.getMember(...member),
  }, logger);
  const installer = overrides.installer ?? graphInstaller(config, logger);
  engine = new DeliveryEngine({
    store,
    connector: new BotFrameworkConnector({ adapter, botAppId: config.botId }),
    render: renderCopy,
    logger,
    perTenantPerSecond: config.tenantRatePerSecond,
    defaultTimeZone: config.defaultTimeZone,
    installer,
    graphInstallsPerSecond: config.graphInstallsPerSecond,
    observers: [inbox, ...instruments.deliveryObservers, ...(overrides.observers ?? [])],
    ownership,
    workHandlers: { roster: rosterSync },
    ...overrides.engine,
  });
  const running = engine;

  const heraldBot = new HeraldBot(store, logger, async (work) => {
    await store.work.put(rosterWorkItem(work, ownership.partitionCount));
    running.poke();
  }, instruments.installs);
  observeBacklog(telemetry.meter, { store, engine: running, onError: (err) => logger.warn({ err }, "metrics: could not count the deliveries waiting") });

  const channelsOf = async (team: Target): Promise<Array<{ id: string; name?: string }>> => {
    let channels: Array<{ id: string; name?: string }> = [];
    await adapter.continueConversationAsync(config.botId, team.reference, async (context) => {
      channels = (await TeamsInfo.getTeamChannels(context, team.teamId)).filter((c) => c.id).map((c) => ({ id: c.id!, ...(c.name ? { name: c.name } : {}) }));
    });
    return channels;
  };
  const teamChannels = async (team: Target): Promise<string[]> => (await channelsOf(team)).map((c) => c.id);
  const audiences = new AudienceResolver({
    store,
    teamChannels,
    canInstall: installer !== undefined,
    defaultTenantId: config.graph.tenantId || config.botTenantId || undefined,
    defaultServiceUrl: TEAMS_GLOBAL_SERVICE_URL,
    defaultTimeZone: config.defaultTimeZone,
  });
  const notifications = new NotificationService({
    store, audiences, engine, partitionCount: ownership.partitionCount, allowedTenants: config.allowedTenants,
  });
  const changes = new NotificationChanges({ store, engine, partitionCount: ownership.partitionCount });

  const server = createServer({
    logger,
    store,
    notifications,
    changes,
    engine,
    ownership,
    apiKey: config.apiKey,
    apiKeys: config.apiKeys,
    entra: entraCallerValidator(config),
    ratePerMinute: config.apiRatePerMinute,
    allowedTenants: config.allowedTenants,
    processActivity: createActivityEndpoint({
      adapter, logic: traceBotTurns(telemetry.tracer, (context) => heraldBot.run(context)), allowedTenants: config.allowedTenants, logger, authTimeoutMs: overrides.inboundAuthTimeoutMs,
    }),
    metricsText: () => telemetry.prometheusText(),
  });
  traceApiRequests(server, telemetry.tracer);
  mountTab(server, { config: config.tab, localMode: !config.botId, store, notifications, logger, teamChannels: channelsOf });

  let schedules: RunningSchedules | undefined;
  const retention = config.retentionDays > 0
    ? new Retention({ store, ownership, log: logger, days: config.retentionDays, ...overrides.retention })
    : undefined;

  return {
    store,
    bot: heraldBot,
    engine: running,
    ownership,
    retention,
    notifications,
    changes,
    inbox,
    async start() {
      await running.start();
      retention?.start();
      if (config.schedulesFile) {
        schedules = await startSchedules({ file: config.schedulesFile, store, notifications, logger, defaultTimeZone: config.defaultTimeZone });
      }
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(config.port, resolve);
      });
      const { port } = server.address() as AddressInfo;
      return `http://127.0.0.1:${port}`;
    },
    /**
     * Graceful stop (SIGTERM): no new connections, no new claims; requests in flight to Teams finish and are
     * recorded; the partitions are handed over at once; the store closes. Bounded by the engine's stopTimeoutMs.
     */
    async stop() {
      await schedules?.stop();
      await retention?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.server.closeIdleConnections?.();
      await running.stop();
      await inbox.idle();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      server.server.closeAllConnections?.();
      await store.close();
      await telemetry.shutdown();
    },
  };
}

/** Entra ID callers (managed identities, apps) with the app role Notifications.Send, when HERALD_API_AUDIENCE is set. */
function entraCallerValidator(config: HeraldConfig): EntraValidate | undefined {
  const entra = config.entraCallers;
  if (!entra) return undefined;
  const validator = new EntraTokenValidator({
    audiences: entra.audiences,
    allowedTenants: entra.tenants,
    authorityHost: entra.authorityHost,
    ...(entra.openIdMetadataUrl ? { openIdMetadataUrl: entra.openIdMetadataUrl } : {}),
  });
  return (token) => validator.validate(token);
}

/** Proactive install through Graph is on when the app's catalog id is configured. */
function graphInstaller(config: HeraldConfig, logger: Logger): PersonalChatInstaller | undefined {
  if (!config.graph.teamsAppCatalogId) return undefined;
  return createGraphAppInstaller({
    ...config.graph,
    teamsAppId: config.graph.teamsAppCatalogId,
    externalAppId: config.graph.teamsAppId,
    graphBaseUrl: config.graph.baseUrl,
  }, logger);
}
