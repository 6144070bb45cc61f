/**
 * The one place Herald reads its environment. Every problem is reported with the variable's name, and
 * secrets are kept out of error messages.
 */
import { z } from "zod";
import { DEFAULT_PARTITION_COUNT, MAX_PARTITION_COUNT } from "./cluster/partitions";
import { isTimeZone } from "./time-zone";
import { BOT_FRAMEWORK_SETTING_NAMES, BotCloudError, entraAuthorityHost, resolveBotFrameworkSettings, type BotFrameworkSettings } from "./bot/bot-clouds";

/**
 * How a variable reaches Herald's Web App in Azure. `npm run validate` checks infra/ against ENVIRONMENT:
 *  - "parameter": azure.bicep sets the app setting from one of its parameters, which infra/azure.parameters.json
 *    fills from a `${{VAR}}` of env/.env.<env> (secrets: SECRET_… in env/.env.<env>.user);
 *  - "provisioned": azure.bicep sets it from what it creates (identity, storage, Application Insights) or to a
 *    fixed value;
 *  - "not-in-azure": never set on the Web App, for the reason given.
 */
export type AzureSetting = { azure: "parameter" } | { azure: "provisioned" } | { azure: "not-in-azure"; reason: string };

const PARAMETER = { azure: "parameter" } as const;

/**
 * Every environment variable Herald reads. loadConfig reads nothing else: its helpers (`optional`, `integer`) only
 * take these names, and test/config.test.ts checks that each one listed is read. A new variable goes here first.
 */
export const ENVIRONMENT = {
  PORT: { azure: "not-in-azure", reason: "App Service sets PORT itself" },
  BOT_ID: { azure: "provisioned" },
  BOT_TYPE: { azure: "provisioned" },
  BOT_PASSWORD: { azure: "not-in-azure", reason: "in Azure the bot is a user-assigned managed identity, which has no secret" },
  BOT_TENANT_ID: { azure: "provisioned" },
  HERALD_API_KEY: PARAMETER,
  HERALD_API_KEYS: PARAMETER,
  HERALD_API_AUDIENCE: PARAMETER,
  HERALD_API_OPENID_METADATA_URL: PARAMETER,
  HERALD_API_RATE_LIMIT: PARAMETER,
  HERALD_ALLOWED_TENANTS: PARAMETER,
  HERALD_STORE: { azure: "provisioned" },
  HERALD_TABLE_PREFIX: PARAMETER,
  HERALD_PARTITIONS: PARAMETER,
  HERALD_LEASE_SECONDS: PARAMETER,
  HERALD_RETENTION_DAYS: PARAMETER,
  LOG_LEVEL: PARAMETER,
  HERALD_DEFAULT_TIMEZONE: PARAMETER,
  HERALD_SCHEDULES_FILE: PARAMETER,
  HERALD_TENANT_RATE: PARAMETER,
  HERALD_GRAPH_INSTALL_RATE: PARAMETER,
  HERALD_GRAPH_TENANT_ID: PARAMETER,
  HERALD_GRAPH_CLIENT_ID: PARAMETER,
  HERALD_GRAPH_CLIENT_SECRET: PARAMETER,
  HERALD_GRAPH_URL: PARAMETER,
  AZURE_CLIENT_ID: { azure: "provisioned" },
  TEAMS_APP_ID: PARAMETER,
  TEAMS_APP_CATALOG_ID: PARAMETER,
  APPLICATIONINSIGHTS_CONNECTION_STRING: { azure: "provisioned" },
  // botbuilder's cloud settings (bot/bot-clouds.ts): empty in Azure's public cloud, set for a national cloud.
  ChannelService: PARAMETER,
  ToBotFromChannelTokenIssuer: PARAMETER,
  ToBotFromChannelOpenIdMetadataUrl: PARAMETER,
  ToBotFromEmulatorOpenIdMetadataUrl: PARAMETER,
  ValidateAuthority: PARAMETER,
  ToChannelFromBotLoginUrl: PARAMETER,
  ToChannelFromBotOAuthScope: PARAMETER,
  OAuthUrl: PARAMETER,
  CallerId: PARAMETER,
  // The tab (README: The tab): its Entra app, the domain it is served on, who may send from it.
  AAD_APP_CLIENT_ID: PARAMETER,
  AAD_APP_TENANT_ID: PARAMETER,
  HERALD_SENDERS: PARAMETER,
  BOT_DOMAIN: { azure: "provisioned" },
  HERALD_PUBLIC_URL: { azure: "not-in-azure", reason: "BOT_DOMAIN names the Web App's domain in Azure" },
  AAD_APP_OAUTH_AUTHORITY_HOST: { azure: "not-in-azure", reason: "in Azure the authority follows the bot's cloud (ChannelService)" },
  HERALD_ENTRA_METADATA_URL: { azure: "not-in-azure", reason: "a local OpenID configuration, for tests" },
} as const satisfies Record<string, AzureSetting>;

export type EnvironmentVariable = keyof typeof ENVIRONMENT;

/** pino's levels; anything else makes pino throw deep inside start-up. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export type BotType = "MultiTenant" | "SingleTenant" | "UserAssignedMsi";

export interface HeraldConfig {
  port: number;
  /** Empty locally: botbuilder then accepts unauthenticated activities (Agents Playground, emulator). */
  botId: string;
  botPassword: string;
  botType: BotType;
  botTenantId: string;
  /** Undefined only locally, where only loopback callers are accepted. */
  apiKey?: string;
  /** The raw HERALD_STORE value; `parseStoreSpec` in store/open.ts interprets it. */
  store: string | undefined;
  tablePrefix: string;
  logLevel: string;
  /** Fallback zone for recipients whose time zone Herald never saw. */
  defaultTimeZone: string;
  schedulesFile?: string;
  /** Requests per second per tenant that the engine allows itself (Teams: 50). */
  tenantRatePerSecond: number;
  /** Graph installs (installIfMissing) per second per tenant (HERALD_GRAPH_INSTALL_RATE). */
  graphInstallsPerSecond: number;
  /** Delivery partitions (tenants hash into them; each is owned by one instance). Fixed for a store. */
  partitionCount: number;
  /** Blob lease duration for partition ownership, in seconds (15..60). */
  leaseSeconds: number;
  /** Days a finished notification (and its deliveries) is kept; 0 = forever. */
  retentionDays: number;
  graph: {
    tenantId?: string;
    clientId?: string;
    clientSecret?: string;
    managedIdentityClientId?: string;
    /** The app's id in the tenant's catalog (what `teamsApp@odata.bind` points at). */
    teamsAppCatalogId?: string;
    /** The manifest id. */
    teamsAppId?: string;
    baseUrl?: string;
  };
  telemetry: {
    /** Application Insights; unset = metrics only at GET /api/metrics, no export. */
    connectionString?: string;
    /** Sign in to Application Insights with this managed identity (AZURE_CLIENT_ID) instead of the key. */
    managedIdentityClientId?: string;
  };
  /** The Bot Framework cloud, complete (botbuilder's setting names; see bot/bot-clouds.ts). */
  botFramework: BotFrameworkSettings;
  /** HERALD_ALLOWED_TENANTS, lower-cased: the only tenants whose activities and audiences are accepted; empty = any. */
  allowedTenants: string[];
  /** Every accepted API key by name: HERALD_API_KEYS, plus HERALD_API_KEY as "default". */
  apiKeys: NamedApiKey[];
  /** Entra ID callers with the app role Notifications.Send; absent = not accepted. */
  entraCallers?: EntraCallerConfig;
  /** POST /api/notifications allowed per caller per minute (HERALD_API_RATE_LIMIT); 0 = no limit. */
  apiRatePerMinute: number;
  /** The tab: Teams SSO (Entra ID tokens) and who may send from it. */
  tab: TabConfig;
}

export interface NamedApiKey {
  name: string;
  key: string;
}

export interface EntraCallerConfig {
  /** Accepted `aud` values (HERALD_API_AUDIENCE): the app registration's Application ID URI and/or client id. */
  audiences: string[];
  /** Tenants whose applications may call: HERALD_ALLOWED_TENANTS, else BOT_TENANT_ID. */
  tenants: string[];
  /** Entra ID host of the cloud, e.g. login.microsoftonline.us in US Government. */
  authorityHost: string;
  /** HERALD_API_OPENID_METADATA_URL: where the signing keys are named (default: the authority's). */
  openIdMetadataUrl?: string;
}

export interface TabConfig {
  /** The Entra app (client) id Teams SSO issues tokens for (AAD_APP_CLIENT_ID); unset = SSO off, local mode only. */
  clientId?: string;
  /** Accepted token audiences: the client id (v2 tokens) and api://<BOT_DOMAIN>/<client id> (v1 tokens). */
  audiences: string[];
  /** Tenants whose people may sign in; empty = any. */
  allowedTenants: string[];
  /** Entra authority host ("login.microsoftonline.com", or a sovereign cloud's). */
  authorityHost: string;
  /** Where the signing keys are announced (tests point it at a loopback server); default from the authority. */
  openIdMetadataUrl?: string;
  /** Entra object ids or UPNs (lower-cased) who may send from the tab, besides holders of the Herald.Sender role. */
  senders: string[];
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly variable: string, problem: string) {
    super(`${variable} ${problem}`);
  }
}

type Env = Record<string, string | undefined>;

function optional(env: Env, name: EnvironmentVariable): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: EnvironmentVariable, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const parsed = z.coerce.number().int().min(min).max(max).safeParse(raw);
  if (!parsed.success) throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  return parsed.data;
}

/** Reads and validates the environment. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): HeraldConfig {
  const botId = optional(env, "BOT_ID") ?? "";
  const botTypeRaw = optional(env, "BOT_TYPE") ?? "MultiTenant";
  if (!["MultiTenant", "SingleTenant", "UserAssignedMsi"].includes(botTypeRaw)) {
    throw new ConfigError("BOT_TYPE", `must be MultiTenant, SingleTenant or UserAssignedMsi (got "${botTypeRaw}")`);
  }
  const botType = botTypeRaw as BotType;
  const botPassword = optional(env, "BOT_PASSWORD") ?? "";
  const botTenantId = optional(env, "BOT_TENANT_ID") ?? "";
  if (botId && botType !== "UserAssignedMsi" && !botPassword) {
    throw new ConfigError("BOT_PASSWORD", `is required when BOT_ID is set and BOT_TYPE is ${botType}`);
  }
  if (botId && botType !== "MultiTenant" && !botTenantId) {
    throw new ConfigError("BOT_TENANT_ID", `is required when BOT_TYPE is ${botType}`);
  }

  const apiKey = optional(env, "HERALD_API_KEY");
  const apiAudience = optional(env, "HERALD_API_AUDIENCE");
  if (botId && !apiKey && !optional(env, "HERALD_API_KEYS") && !apiAudience) {
    throw new ConfigError("HERALD_API_KEY", "is required when BOT_ID is set (a deployed Herald must not accept unauthenticated notifications); or set HERALD_API_KEYS or HERALD_API_AUDIENCE");
  }
  if (apiKey && apiKey.length < 16) {
    throw new ConfigError("HERALD_API_KEY", "must be at least 16 characters");
  }
  const apiKeys = namedApiKeys(env, apiKey);

  const defaultTimeZone = optional(env, "HERALD_DEFAULT_TIMEZONE") ?? "UTC";
  if (!isTimeZone(defaultTimeZone)) {
    throw new ConfigError("HERALD_DEFAULT_TIMEZONE", `is not an IANA time zone (got "${defaultTimeZone}")`);
  }
  const tablePrefix = optional(env, "HERALD_TABLE_PREFIX") ?? "herald";
  if (!/^[A-Za-z][A-Za-z0-9]{2,40}$/.test(tablePrefix)) {
    throw new ConfigError("HERALD_TABLE_PREFIX", "must start with a letter and contain 3-41 letters or digits");
  }
  const botFramework = botFrameworkSettings(env);
  const allowedTenants = tenantList(env, "HERALD_ALLOWED_TENANTS");
  const logLevel = optional(env, "LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")} (got "${logLevel}")`);
  }
  const managedIdentityClientId = optional(env, "AZURE_CLIENT_ID");

  return {
    port: integer(env, "PORT", 3978, 0, 65535),
    botId,
    botPassword,
    botType,
    botTenantId,
    apiKey,
    store: optional(env, "HERALD_STORE"),
    tablePrefix,
    logLevel,
    defaultTimeZone,
    schedulesFile: optional(env, "HERALD_SCHEDULES_FILE"),
    tenantRatePerSecond: integer(env, "HERALD_TENANT_RATE", 50, 1, 1000),
    graphInstallsPerSecond: integer(env, "HERALD_GRAPH_INSTALL_RATE", 5, 1, 100),
    partitionCount: integer(env, "HERALD_PARTITIONS", DEFAULT_PARTITION_COUNT, 1, MAX_PARTITION_COUNT),
    leaseSeconds: integer(env, "HERALD_LEASE_SECONDS", 15, 15, 60),
    retentionDays: integer(env, "HERALD_RETENTION_DAYS", 30, 0, 3650),
    graph: {
      tenantId: optional(env, "HERALD_GRAPH_TENANT_ID") ?? (botTenantId || undefined),
      clientId: optional(env, "HERALD_GRAPH_CLIENT_ID"),
      clientSecret: optional(env, "HERALD_GRAPH_CLIENT_SECRET"),
      managedIdentityClientId,
      teamsAppCatalogId: optional(env, "TEAMS_APP_CATALOG_ID"),
      teamsAppId: optional(env, "TEAMS_APP_ID"),
      baseUrl: optional(env, "HERALD_GRAPH_URL"),
    },
    telemetry: {
      connectionString: optional(env, "APPLICATIONINSIGHTS_CONNECTION_STRING"),
      managedIdentityClientId,
    },
    botFramework,
    allowedTenants,
    apiKeys,
    ...(apiAudience ? { entraCallers: entraCallers(env, apiAudience, allowedTenants, botTenantId, botFramework) } : {}),
    apiRatePerMinute: integer(env, "HERALD_API_RATE_LIMIT", 120, 0, 1_000_000),
    tab: tabConfig(env, allowedTenants, botFramework),
  };
}

const list = (value: string | undefined) => (value ?? "").split(/[\s,;]+/).map((v) => v.trim()).filter(Boolean);

function tabConfig(env: Env, allowedTenants: string[], cloud: BotFrameworkSettings): TabConfig {
  const clientId = optional(env, "AAD_APP_CLIENT_ID");
  const publicUrl = optional(env, "HERALD_PUBLIC_URL");
  if (publicUrl && !/^https?:\/\//.test(publicUrl)) throw new ConfigError("HERALD_PUBLIC_URL", "must be an http(s) URL");
  const domain = optional(env, "BOT_DOMAIN") ?? (publicUrl ? new URL(publicUrl).host : undefined);
  if (domain && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(domain)) throw new ConfigError("BOT_DOMAIN", `must be a host name such as herald.azurewebsites.net (got "${domain}")`);
  const authority = optional(env, "AAD_APP_OAUTH_AUTHORITY_HOST") ?? entraAuthorityHost(cloud);
  const authorityHost = authority.replace(/^https:\/\//, "").replace(/\/+$/, "");
  if (!/^[A-Za-z0-9.-]+$/.test(authorityHost)) throw new ConfigError("AAD_APP_OAUTH_AUTHORITY_HOST", `must be a host such as login.microsoftonline.com (got "${authority}")`);
  // The same keys as the API's Entra callers: one variable points both at another Entra (tests: a loopback one).
  const openIdMetadataUrl = optional(env, "HERALD_ENTRA_METADATA_URL") ?? optional(env, "HERALD_API_OPENID_METADATA_URL");
  if (openIdMetadataUrl && !/^https?:\/\//.test(openIdMetadataUrl)) throw new ConfigError("HERALD_ENTRA_METADATA_URL", "must be an http(s) URL");
  // HERALD_ALLOWED_TENANTS when set (as for activities and the API), else the Entra app's own tenant.
  const appTenant = optional(env, "AAD_APP_TENANT_ID");
  return {
    ...(clientId ? { clientId } : {}),
    audiences: clientId ? [clientId, ...(domain ? [`api://${domain}/${clientId}`] : [])] : [],
    allowedTenants: allowedTenants.length > 0 ? allowedTenants : appTenant ? [appTenant.toLowerCase()] : [],
    authorityHost,
    ...(openIdMetadataUrl ? { openIdMetadataUrl } : {}),
    senders: list(optional(env, "HERALD_SENDERS")).map((s) => s.toLowerCase()),
  };
}

/** botbuilder's own names (ChannelService, ToBotFromChannelOpenIdMetadataUrl, ...), completed from the cloud. */
function botFrameworkSettings(env: Env): BotFrameworkSettings {
  const given = Object.fromEntries(BOT_FRAMEWORK_SETTING_NAMES.map((name) => [name, optional(env, name)]));
  try {
    return resolveBotFrameworkSettings(given);
  } catch (error) {
    if (error instanceof BotCloudError) throw new ConfigError(error.setting, error.message);
    throw error;
  }
}

function tenantList(env: Env, name: EnvironmentVariable): string[] {
  const raw = optional(env, name);
  if (!raw) return [];
  const tenants = raw.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  const bad = tenants.find((t) => !/^[a-z0-9][a-z0-9.-]{0,99}$/.test(t));
  if (bad) throw new ConfigError(name, `must be a comma-separated list of tenant ids (got "${bad}")`);
  return [...new Set(tenants)];
}

/** HERALD_API_KEYS=name:key,name:key — several keys, so callers can rotate one at a time. Never echoes a key. */
function namedApiKeys(env: Env, singleKey: string | undefined): NamedApiKey[] {
  const keys: NamedApiKey[] = singleKey ? [{ name: "default", key: singleKey }] : [];
  const raw = optional(env, "HERALD_API_KEYS");
  for (const [i, entry] of (raw ?? "").split(",").map((e) => e.trim()).filter(Boolean).entries()) {
    const colon = entry.indexOf(":");
    const name = colon > 0 ? entry.slice(0, colon).trim() : "";
    const key = colon > 0 ? entry.slice(colon + 1).trim() : "";
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
      throw new ConfigError("HERALD_API_KEYS", `entry ${i + 1} must be name:key with a name of letters, digits, _ . - (up to 64)`);
    }
    if (key.length < 16) throw new ConfigError("HERALD_API_KEYS", `the key named "${name}" must be at least 16 characters`);
    if (keys.some((k) => k.name === name)) throw new ConfigError("HERALD_API_KEYS", `names "${name}" twice`);
    keys.push({ name, key });
  }
  return keys;
}

function entraCallers(env: Env, audience: string, allowedTenants: string[], botTenantId: string, cloud: BotFrameworkSettings): EntraCallerConfig {
  const audiences = audience.split(",").map((a) => a.trim()).filter(Boolean);
  const tenants = allowedTenants.length > 0 ? allowedTenants : botTenantId ? [botTenantId.toLowerCase()] : [];
  if (tenants.length === 0) {
    // A multi-tenant app registration can be given a service principal, and the role, in any tenant.
    throw new ConfigError("HERALD_API_AUDIENCE", "needs HERALD_ALLOWED_TENANTS or BOT_TENANT_ID: only applications of your tenant(s) may call");
  }
  const openIdMetadataUrl = optional(env, "HERALD_API_OPENID_METADATA_URL");
  if (openIdMetadataUrl && !/^https?:\/\//.test(openIdMetadataUrl)) throw new ConfigError("HERALD_API_OPENID_METADATA_URL", "must be an http(s) URL");
  return { audiences, tenants, authorityHost: entraAuthorityHost(cloud), ...(openIdMetadataUrl ? { openIdMetadataUrl } : {}) };
}

/** What the operator commands of `npm run herald` (watch, notifications) read: where Herald's API is, and its key. */
export interface CliConfig {
  url: string;
  apiKey?: string;
}

export const CLI_ENVIRONMENT = ["HERALD_URL", "HERALD_API_KEY", "PORT"] as const;

export function loadCliConfig(env: Env = process.env): CliConfig {
  const read = (name: (typeof CLI_ENVIRONMENT)[number]) => env[name]?.trim() || undefined;
  const url = read("HERALD_URL") ?? `http://127.0.0.1:${integer(env, "PORT", 3978, 1, 65535)}`;
  if (!/^https?:\/\/[^/]/.test(url)) throw new ConfigError("HERALD_URL", `must be an http(s) URL such as https://herald.example.com (got "${url}")`);
  return { url: url.replace(/\/+$/, ""), apiKey: read("HERALD_API_KEY") };
}
