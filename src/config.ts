/**
 * The one place Herald reads its environment. Every problem is reported with the variable's name, and
 * secrets are kept out of error messages.
 */
import { z } from "zod";
import { isTimeZone } from "./time-zone";

/**
 * How a variable reaches Herald's Web App in Azure. `npm run validate` checks infra/ against ENVIRONMENT:
 *  - "parameter": azure.bicep sets the app setting from one of its parameters, which infra/azure.parameters.json
 *    fills from a `${{VAR}}` of env/.env.<env> (secrets: SECRET_… in env/.env.<env>.user);
 *  - "provisioned": azure.bicep sets it from what it creates (identity, storage, Application Insights) or to a
 *    fixed value;
 *  - "not-in-azure": never set on the Web App, for the reason given.
 */
export type AzureSetting = { azure: "parameter" } | { azure: "provisioned" } | { azure: "not-in-azure"; reason: string };

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
  HERALD_API_KEY: { azure: "parameter" },
  HERALD_STORE: { azure: "provisioned" },
  HERALD_TABLE_PREFIX: { azure: "parameter" },
  LOG_LEVEL: { azure: "parameter" },
  HERALD_DEFAULT_TIMEZONE: { azure: "parameter" },
  HERALD_SCHEDULES_FILE: { azure: "parameter" },
  HERALD_TENANT_RATE: { azure: "parameter" },
  HERALD_GRAPH_TENANT_ID: { azure: "parameter" },
  HERALD_GRAPH_CLIENT_ID: { azure: "parameter" },
  HERALD_GRAPH_CLIENT_SECRET: { azure: "parameter" },
  HERALD_GRAPH_URL: { azure: "parameter" },
  AZURE_CLIENT_ID: { azure: "provisioned" },
  TEAMS_APP_ID: { azure: "parameter" },
  TEAMS_APP_CATALOG_ID: { azure: "parameter" },
  APPLICATIONINSIGHTS_CONNECTION_STRING: { azure: "provisioned" },
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
  if (botId && !apiKey) {
    throw new ConfigError("HERALD_API_KEY", "is required when BOT_ID is set (a deployed Herald must not accept unauthenticated notifications)");
  }
  if (apiKey && apiKey.length < 16) {
    throw new ConfigError("HERALD_API_KEY", "must be at least 16 characters");
  }

  const defaultTimeZone = optional(env, "HERALD_DEFAULT_TIMEZONE") ?? "UTC";
  if (!isTimeZone(defaultTimeZone)) {
    throw new ConfigError("HERALD_DEFAULT_TIMEZONE", `is not an IANA time zone (got "${defaultTimeZone}")`);
  }
  const tablePrefix = optional(env, "HERALD_TABLE_PREFIX") ?? "herald";
  if (!/^[A-Za-z][A-Za-z0-9]{2,40}$/.test(tablePrefix)) {
    throw new ConfigError("HERALD_TABLE_PREFIX", "must start with a letter and contain 3-41 letters or digits");
  }
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
  };
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
