/**
 * Herald's command line: `npm run herald -- <command>` (after `npm run build`).
 *
 *   targets ...              list the registry (see targets-command.ts)
 *   import-teamsfx <file>    import a TeamsFx .notification.localstore.json
 *   install --users ...      install Herald for people through Microsoft Graph
 *   backfill-members         read UPN/e-mail of people who installed Herald in personal scope before it kept them
 *   forget --user ...        erase what Herald stores about one person
 *
 * It reads the same environment as the bot (HERALD_STORE etc.), so it works on the same store.
 */
import { createCloudAdapter } from "../bot/adapter";
import { renderNotificationActivity } from "../cards/notification-card";
import { ConfigError, loadConfig, type HeraldConfig } from "../config";
import { DeliveryEngine } from "../delivery/engine";
import { BotFrameworkConnector } from "../delivery/teams-connector";
import type { Logger } from "../logger";
import type { HeraldStore } from "../store/types";
import { createLogger } from "../logger";
import { BACKFILL_USAGE, runBackfillMembersCommand } from "./backfill-members-command";
import { openStore, parseStoreSpec } from "../store/open";
import { importTeamsFxStore } from "../store/teamsfx-import";
import { createGraphAppInstaller, runInstallCommand } from "./install-command";
import { runForgetCommand } from "./forget-command";
import { runTargetsCommand } from "./targets-command";

const USAGE = `usage: npm run herald -- <command>
  targets [--kind K] [--tenant ID] [--status active|gone] [--team ID] [--limit N] [--json]
  import-teamsfx <path to .notification.localstore.json>
  install --users <aad-id-or-upn>[,...] [--file users.txt]
  ${BACKFILL_USAGE.replace("usage: herald ", "")}
  forget --user <aad-object-id | upn | teams-user-id> [--tenant ID] [--json]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const out = (line: string) => console.log(line);
  if (!command || command === "help" || command === "--help") {
    out(USAGE);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? "warn" });

  if (command === "install") {
    const installer = createGraphAppInstaller({
      ...config.graph,
      teamsAppId: config.graph.teamsAppCatalogId ?? "",
      externalAppId: config.graph.teamsAppId,
      graphBaseUrl: config.graph.baseUrl,
    }, logger);
    return runInstallCommand(args, { installer, logger, out });
  }

  const store = await openStore(parseStoreSpec(config.store, config.tablePrefix), logger);
  try {
    switch (command) {
      case "targets":
        return await runTargetsCommand(args, store, out);
      case "import-teamsfx": {
        if (!args[0]) throw new Error("import-teamsfx needs the path of a .notification.localstore.json");
        const result = await importTeamsFxStore(args[0], store, logger);
        out(`imported ${result.imported}, updated ${result.updated}, unchanged ${result.unchanged}, skipped ${result.skipped.length}`);
        for (const skip of result.skipped) out(`  skipped ${skip.key}: ${skip.reason}`);
        return 0;
      }
      case "backfill-members":
        return await runBackfillMembersCommand(args, { store, readMember: pacedMemberReader(config, store, logger), out });
      case "forget":
        return await runForgetCommand(args, store, logger, out);
      default:
        out(`unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } finally {
    await store.close();
  }
}

/**
 * The bot's own connector and pacing, outside the bot process: an engine that is never started (it resumes no
 * job) and serves only paced calls. Its budget is this process's own, so run it with a lower
 * HERALD_TENANT_RATE while a busy Herald shares the tenant.
 */
function pacedMemberReader(config: HeraldConfig, store: HeraldStore, logger: Logger) {
  const adapter = createCloudAdapter(config, logger);
  const engine = new DeliveryEngine({
    store, logger, render: renderNotificationActivity, perTenantPerSecond: config.tenantRatePerSecond,
    connector: new BotFrameworkConnector({ adapter, botAppId: config.botId }),
  });
  return (...member: Parameters<DeliveryEngine["getMember"]>) => engine.getMember(...member);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`herald: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
