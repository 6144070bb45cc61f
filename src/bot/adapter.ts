import {
  CloudAdapter, ConfigurationBotFrameworkAuthentication, ConfigurationServiceClientCredentialFactory,
  type Activity, type InvokeResponse, type TurnContext,
} from "botbuilder";
import type { HeraldConfig } from "../config";
import type { Logger } from "../logger";
import type { AuthenticateRequestResult } from "botframework-connector";
import { PUBLIC_CLOUD } from "./bot-clouds";

/**
 * botbuilder's CloudAdapter with the inbound steps split apart, so that Herald's /api/messages route can answer
 * each failure itself (400, 401, 403, 503 as JSON) instead of botbuilder's plain-text 401/500: `authenticate`
 * checks the request's token, `processAuthenticated` runs the turn (TeamsFx's middleware included).
 */
export class HeraldCloudAdapter extends CloudAdapter {
  authenticate(activity: Activity, authHeader: string): Promise<AuthenticateRequestResult> {
    return this.botFrameworkAuthentication.authenticateRequest(activity, authHeader);
  }

  processAuthenticated(auth: AuthenticateRequestResult, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    return this.processActivity(auth, activity, logic);
  }
}

/**
 * The adapter both the bot and the delivery engine use. With no BOT_ID (local) botbuilder accepts
 * unauthenticated activities and sends none — what Agents Playground and the emulator expect.
 */
export function createCloudAdapter(
  config: Pick<HeraldConfig, "botId" | "botPassword" | "botType" | "botTenantId"> & Partial<Pick<HeraldConfig, "botFramework">>,
  logger: Logger,
): HeraldCloudAdapter {
  const credentials = new ConfigurationServiceClientCredentialFactory({
    MicrosoftAppId: config.botId,
    MicrosoftAppPassword: config.botPassword,
    MicrosoftAppType: config.botType,
    MicrosoftAppTenantId: config.botTenantId,
  });
  // Every setting is given (the cloud's defaults filled in), so botbuilder never builds a half-empty configuration.
  const adapter = new HeraldCloudAdapter(new ConfigurationBotFrameworkAuthentication({ ...(config.botFramework ?? PUBLIC_CLOUD) }, credentials));
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
