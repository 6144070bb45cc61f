/**
 * Builds a whole Herald from its configuration: store, bot, delivery engine, triggers, HTTP server.
 * `src/index.ts` runs it as a process; tests build one in-process with port 0 and their own store.
 */
import type { AddressInfo } from "node:net";
import { TeamsInfo } from "botbuilder";
import { BotBuilderCloudAdapter } from "@microsoft/teamsfx";
import type { HeraldConfig } from "./config";
import type { Logger } from "./logger";
import { createServer } from "./api/server";
import { createCloudAdapter } from "./bot/adapter";
import { HeraldBot } from "./bot/herald-bot";
import { createRosterSync, rosterWorkItem } from "./bot/roster-sync";
import { TeamsFxReferenceStore } from "./bot/teamsfx-reference-store";
import { newInstanceId, openOwnership } from "./cluster/open-ownership";
import type { PartitionOwnership } from "./cluster/ownership";
import { renderNotificationActivity } from "./cards/notification-card";
import { AudienceResolver, type PersonalChatInstaller } from "./delivery/audience";
import type { DeliveryObserver } from "./delivery/delivery-events";
import { DeliveryEngine, type DeliveryEngineOptions } from "./delivery/engine";
import { NotificationService } from "./delivery/notification-service";
import { BotFrameworkConnector } from "./delivery/teams-connector";
import { openStore, parseStoreSpec } from "./store/open";
import type { HeraldStore, Target } from "./store/types";
import { startSchedules, type RunningSchedules } from "./triggers/start-schedules";
import { createGraphAppInstaller } from "./graph/create-installer";
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
  /** Extra listeners on the delivery engine (tests, telemetry). */
  observers?: DeliveryObserver[];
}

export interface Herald {
  store: HeraldStore;
  bot: HeraldBot;
  engine: DeliveryEngine;
  ownership: PartitionOwnership;
  notifications: NotificationService;
  /** Writes sent deliveries into people's inboxes ("My notifications") in the background. */
  inbox: InboxRecorder;
  /** Listens on config.port (0 = any free port) and resumes unfinished jobs; returns the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export async function createHerald(config: HeraldConfig, logger: Logger, overrides: HeraldOverrides = {}): Promise<Herald> {
  const spec = parseStoreSpec(config.store, config.tablePrefix);
  const store = overrides.store ?? (await openStore(spec, logger));
  const adapter = createCloudAdapter(config, logger);
  const inbox = new InboxRecorder({ store, logger });
  const conversationBot = new BotBuilderCloudAdapter.ConversationBot({
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
  engine = new DeliveryEngine({
    store,
    connector: new BotFrameworkConnector({ adapter, botAppId: config.botId }),
    render: renderNotificationActivity,
    logger,
    perTenantPerSecond: config.tenantRatePerSecond,
    observers: [inbox, ...(overrides.observers ?? [])],
    ownership,
    workHandlers: { roster: rosterSync },
    ...overrides.engine,
  });
  const running = engine;

  const heraldBot = new HeraldBot(store, logger, async (work) => {
    await store.work.put(rosterWorkItem(work, ownership.partitionCount));
    running.poke();
  });

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
    installer: overrides.installer ?? graphInstaller(config, logger),
    defaultTenantId: config.graph.tenantId || config.botTenantId || undefined,
    defaultServiceUrl: TEAMS_GLOBAL_SERVICE_URL,
    defaultTimeZone: config.defaultTimeZone,
  });
  const notifications = new NotificationService({ store, audiences, engine, partitionCount: ownership.partitionCount });

  const server = createServer({
    logger,
    store,
    notifications,
    engine,
    ownership,
    apiKey: config.apiKey,
    processActivity: (req, res) => conversationBot.requestHandler(req, res, (context) => heraldBot.run(context)),
  });
  mountTab(server, { config: config.tab, localMode: !config.botId, store, notifications, logger, teamChannels: channelsOf });

  let schedules: RunningSchedules | undefined;

  return {
    store,
    bot: heraldBot,
    engine: running,
    ownership,
    notifications,
    inbox,
    async start() {
      await running.start();
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.server.closeIdleConnections?.();
      await running.stop();
      await inbox.idle();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      server.server.closeAllConnections?.();
      await store.close();
    },
  };
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
