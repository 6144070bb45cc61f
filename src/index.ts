/**
 * Composition root: read the configuration, start telemetry, build Herald, run it until SIGINT/SIGTERM.
 * Anything that stops it from starting ends in one "Herald cannot start: …" line on stderr and exit code 1.
 */
import type { Herald } from "./app";
import { loadConfig, type HeraldConfig } from "./config";
import { createLogger, type Logger } from "./logger";
import { describeStartupError, STARTUP_FAILURE_PREFIX } from "./startup-error";
import { startTelemetry } from "./telemetry";

async function main(): Promise<void> {
  const { herald, logger } = await startOrExit();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "Herald stopping");
    await herald.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

/** Everything up to listening. Whatever fails ends the process with one line naming the cause. */
async function startOrExit(): Promise<{ herald: Herald; logger: Logger }> {
  let config: HeraldConfig | undefined;
  let logger: Logger | undefined;
  try {
    config = loadConfig();
    logger = createLogger({ level: config.logLevel });
    if (!config.botId && config.apiKeys.length === 0 && !config.entraCallers) {
      logger.warn("HERALD_API_KEY is not set: the API accepts loopback callers only (local development mode)");
    }
    // Before app.ts loads restify and botbuilder, so Azure Monitor's HTTP instrumentation sees them.
    const telemetry = startTelemetry(config, logger);
    const { createHerald } = await import("./app");
    const herald = await createHerald(config, logger, { telemetry });
    const url = await herald.start();
    logger.info({ url, store: herald.store.kind, authenticated: Boolean(config.botId) }, "Herald listening");
    return { herald, logger };
  } catch (error) {
    const cause = describeStartupError(error, config?.port);
    logger?.fatal({ err: error }, `${STARTUP_FAILURE_PREFIX}${cause}`);
    console.error(`${STARTUP_FAILURE_PREFIX}${cause}`);
    process.exit(1);
  }
}

void main();
