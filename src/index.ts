/**
 * Composition root: read the configuration, build Herald, run it until SIGINT/SIGTERM.
 * Any configuration or store problem stops the process at start with a message that names it.
 */
import { createHerald } from "./app";
import { ConfigError, loadConfig } from "./config";
import { createLogger } from "./logger";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Herald cannot start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  if (!config.botId && config.apiKeys.length === 0 && !config.entraCallers) {
    logger.warn("HERALD_API_KEY is not set: the API accepts loopback callers only (local development mode)");
  }

  let herald;
  try {
    herald = await createHerald(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `Herald cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  let url: string;
  try {
    url = await herald.start();
  } catch (error) {
    // A second Herald on a SQLite file, a port in use, a partition count the store refuses: one line, exit 1.
    logger.fatal({ err: error }, `Herald cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  logger.info({ url, store: herald.store.kind, authenticated: Boolean(config.botId) }, "Herald listening");

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

void main();
