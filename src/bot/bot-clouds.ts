/**
 * Which Bot Framework cloud Herald talks to, in botbuilder's own configuration names.
 *
 * botbuilder (BotFrameworkAuthenticationFactory) picks the public or US Government constants only while none of
 * its URL settings is given; as soon as one is overridden it builds a fully custom configuration in which every
 * value not given is undefined (no token issuer, no OAuth scope, ...), which rejects every token or fails at the
 * first reply. Herald therefore resolves the complete set itself: the cloud `ChannelService` names, with each
 * value given in the environment laid over it, and hands botbuilder all of them.
 */
import { CallerIdConstants } from "botbuilder";
import { AuthenticationConstants, GovernmentConstants } from "botframework-connector";

export interface BotFrameworkSettings {
  /** "" = public cloud; https://botframework.azure.us = US Government (GCC High, DoD); else a custom cloud. */
  ChannelService: string;
  ToBotFromChannelTokenIssuer: string;
  ToBotFromChannelOpenIdMetadataUrl: string;
  ToBotFromEmulatorOpenIdMetadataUrl: string;
  ValidateAuthority: boolean;
  ToChannelFromBotLoginUrl: string;
  ToChannelFromBotOAuthScope: string;
  OAuthUrl: string;
  CallerId: string;
}

export type BotFrameworkSettingName = keyof BotFrameworkSettings;

export const BOT_FRAMEWORK_SETTING_NAMES: readonly BotFrameworkSettingName[] = [
  "ChannelService", "ToBotFromChannelTokenIssuer", "ToBotFromChannelOpenIdMetadataUrl", "ToBotFromEmulatorOpenIdMetadataUrl",
  "ValidateAuthority", "ToChannelFromBotLoginUrl", "ToChannelFromBotOAuthScope", "OAuthUrl", "CallerId",
];

export const PUBLIC_CLOUD: BotFrameworkSettings = {
  ChannelService: "",
  ToBotFromChannelTokenIssuer: AuthenticationConstants.ToBotFromChannelTokenIssuer,
  ToBotFromChannelOpenIdMetadataUrl: AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl,
  ToBotFromEmulatorOpenIdMetadataUrl: AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
  ValidateAuthority: true,
  ToChannelFromBotLoginUrl: AuthenticationConstants.ToChannelFromBotLoginUrl,
  ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
  OAuthUrl: AuthenticationConstants.OAuthUrl,
  CallerId: CallerIdConstants.PublicAzureChannel,
};

/** Azure Government, which serves Teams in Office 365 GCC High and DoD (DoD sets OAuthUrl, see the README). */
export const US_GOVERNMENT_CLOUD: BotFrameworkSettings = {
  ChannelService: GovernmentConstants.ChannelService,
  ToBotFromChannelTokenIssuer: GovernmentConstants.ToBotFromChannelTokenIssuer,
  ToBotFromChannelOpenIdMetadataUrl: GovernmentConstants.ToBotFromChannelOpenIdMetadataUrl,
  ToBotFromEmulatorOpenIdMetadataUrl: GovernmentConstants.ToBotFromEmulatorOpenIdMetadataUrl,
  ValidateAuthority: true,
  ToChannelFromBotLoginUrl: GovernmentConstants.ToChannelFromBotLoginUrl,
  ToChannelFromBotOAuthScope: GovernmentConstants.ToChannelFromBotOAuthScope,
  OAuthUrl: GovernmentConstants.OAuthUrl,
  CallerId: CallerIdConstants.USGovChannel,
};

/** A custom ChannelService (a private or another national cloud) has no defaults: these must all be given. */
const REQUIRED_FOR_CUSTOM_CLOUD: readonly BotFrameworkSettingName[] = [
  "ToBotFromChannelTokenIssuer", "ToBotFromChannelOpenIdMetadataUrl", "ToChannelFromBotLoginUrl", "ToChannelFromBotOAuthScope",
];

export class BotCloudError extends Error {
  constructor(readonly setting: BotFrameworkSettingName, problem: string) {
    super(problem);
  }
}

/**
 * The complete settings: the cloud `ChannelService` selects, with every given value laid over it. Values are the
 * raw environment strings (empty = not given). Throws BotCloudError naming the setting that is wrong.
 */
export function resolveBotFrameworkSettings(given: Partial<Record<BotFrameworkSettingName, string>>): BotFrameworkSettings {
  const channelService = (given.ChannelService ?? "").trim().replace(/\/+$/, "");
  const base = channelService === "" ? PUBLIC_CLOUD
    : channelService.toLowerCase() === GovernmentConstants.ChannelService ? US_GOVERNMENT_CLOUD
    : undefined;
  if (!base) {
    if (!/^https:\/\/\S+$/.test(channelService)) {
      throw new BotCloudError("ChannelService", `must be empty (public cloud), ${GovernmentConstants.ChannelService} (US Government: GCC High, DoD) or the https URL of another cloud (got "${channelService}")`);
    }
    const missing = REQUIRED_FOR_CUSTOM_CLOUD.find((name) => !given[name]?.trim());
    if (missing) throw new BotCloudError(missing, `is required when ChannelService names a cloud Herald has no defaults for (${channelService})`);
  }
  const settings: BotFrameworkSettings = { ...(base ?? { ...PUBLIC_CLOUD, OAuthUrl: "", CallerId: "" }), ChannelService: channelService };
  for (const name of BOT_FRAMEWORK_SETTING_NAMES) {
    const raw = given[name]?.trim();
    if (!raw || name === "ChannelService") continue;
    if (name === "ValidateAuthority") {
      if (!/^(true|false)$/i.test(raw)) throw new BotCloudError(name, `must be true or false (got "${raw}")`);
      settings.ValidateAuthority = raw.toLowerCase() === "true";
    } else if (name === "CallerId" || name === "ToChannelFromBotOAuthScope" || name === "ToBotFromChannelTokenIssuer") {
      settings[name] = raw;
    } else {
      if (!isUrl(raw)) throw new BotCloudError(name, `must be an http(s) URL (got "${raw}")`);
      settings[name] = raw;
    }
  }
  return settings;
}

/** The Entra ID host of the cloud (for Herald's own callers' tokens): derived from the bot's login URL. */
export function entraAuthorityHost(settings: BotFrameworkSettings): string {
  try {
    return new URL(settings.ToChannelFromBotLoginUrl).host;
  } catch {
    return "login.microsoftonline.com";
  }
}

function isUrl(value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}
