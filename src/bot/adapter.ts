import { CloudAdapter, ConfigurationBotFrameworkAuthentication, ConfigurationServiceClientCredentialFactory } from "botbuilder";
import type { HeraldConfig } from "../config";
import type { Logger } from "../logger";

/**
 * The botbuilder CloudAdapter both the bot and the delivery engine use. With no BOT_ID (local) botbuilder
 * accepts unauthenticated activities and sends none — what Agents Playground and the emulator expect.
 */
export function createCloudAdapter(config: Pick<HeraldConfig, "botId" | "botPassword" | "botType" | "botTenantId">, logger: Logger): CloudAdapter {
  const credentials = new ConfigurationServiceClientCredentialFactory({
    MicrosoftAppId: config.botId,
    MicrosoftAppPassword: config.botPassword,
    MicrosoftAppType: config.botType,
    MicrosoftAppTenantId: config.botTenantId,
  });
  const adapter = new CloudAdapter(new ConfigurationBotFrameworkAuthentication({}, credentials));
  adapter.onTurnError = async (context, error) => {
    // The details go to the log; a person in Teams never sees a stack trace.
    logger.error({ err: error, activityType: context.activity.type, conversation: context.activity.conversation?.id }, "bot turn failed");
    if (context.activity.type === "message") {
      try {
        await context.sendActivity("Sorry, something went wrong on my side. Please try again in a moment.");
      } catch (sendError) {
        logger.warn({ err: sendError }, "could not tell the user about the failed turn");
      }
    }
  };
  return adapter;
}
