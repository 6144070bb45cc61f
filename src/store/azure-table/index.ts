/**
 * Herald's Azure Table Storage backend. Nine tables share a prefix (default "herald"):
 *   <prefix>targets, <prefix>members, <prefix>memberindex, <prefix>jobs, <prefix>deliveries, <prefix>prefs,
 *   <prefix>schedules, <prefix>work, <prefix>inbox — each module documents its PartitionKey/RowKey layout.
 * Locally and in tests it takes a connection string (Azurite); in Azure an account URL and a token credential
 * (DefaultAzureCredential → the Web App's managed identity).
 */
import { TableClient, type TableServiceClientOptions } from "@azure/data-tables";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import type { Logger } from "../../logger";
import { StoreUnreadableError, type HeraldStore } from "../types";
import { DeliveryTable } from "./delivery-table";
import { AzureInboxStore } from "./inbox-table";
import { AzureJobStore, type JobTableOptions } from "./job-table";
import { AzureMemberStore } from "./member-table";
import { AzurePreferenceStore } from "./preference-table";
import { AzureScheduleRunStore } from "./schedule-table";
import { AzureTargetStore } from "./target-table";
import { AzureWorkStore } from "./work-table";
import { getRow } from "./table-helpers";

export interface AzureTableStoreOptions {
  /** Shared key or SAS connection string (Azurite: its development account). Never logged. */
  connectionString?: string;
  /** `https://<account>.table.core.windows.net`, used with `credential` (default DefaultAzureCredential). */
  accountUrl?: string;
  /** Letters and digits, starting with a letter; "" means "herald". */
  tablePrefix: string;
  credential?: TokenCredential;
  /** SDK retry policy (the default retries a failing call for several seconds). */
  retryOptions?: TableServiceClientOptions["retryOptions"];
  jobs?: JobTableOptions;
}

export const TABLE_SUFFIXES = ["targets", "members", "memberindex", "jobs", "deliveries", "prefs", "schedules", "work", "inbox"] as const;
type TableSuffix = (typeof TABLE_SUFFIXES)[number];

export const DEFAULT_TABLE_PREFIX = "herald";

/** Table names: 3–63 letters/digits, starting with a letter. */
export function tableNames(prefix: string): Record<TableSuffix, string> {
  const p = prefix === "" ? DEFAULT_TABLE_PREFIX : prefix;
  const longest = Math.max(...TABLE_SUFFIXES.map((s) => s.length));
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(p) || p.length + longest > 63) {
    throw new Error(`Azure table prefix "${p}" is invalid: use 1–${63 - longest} letters and digits, starting with a letter`);
  }
  return Object.fromEntries(TABLE_SUFFIXES.map((s) => [s, `${p}${s}`])) as Record<TableSuffix, string>;
}

export async function openAzureTableStore(opts: AzureTableStoreOptions, logger: Logger): Promise<HeraldStore> {
  const names = tableNames(opts.tablePrefix);
  const secrets = secretsOf(opts.connectionString);
  const clients = {} as Record<TableSuffix, TableClient>;
  let location: string;
  try {
    for (const suffix of TABLE_SUFFIXES) clients[suffix] = createClient(opts, names[suffix]);
    location = withoutQuery(clients.targets.url);
  } catch (error) {
    throw new Error(`Azure Table store: cannot use the configured ${opts.connectionString ? "connection string" : "account URL"}: ${redact(messageOf(error), secrets)}`);
  }

  try {
    await Promise.all(TABLE_SUFFIXES.map((suffix) => clients[suffix].createTable()));
  } catch (error) {
    throw new StoreUnreadableError(location, new Error(describe(error, secrets)));
  }
  logger.info({ store: "azure-table", endpoint: location, tablePrefix: opts.tablePrefix || DEFAULT_TABLE_PREFIX }, "azure tables ready");

  const deliveries = new DeliveryTable(clients.deliveries);
  return {
    kind: "azure-table",
    targets: new AzureTargetStore(clients.targets),
    members: new AzureMemberStore(clients.members, clients.memberindex),
    jobs: new AzureJobStore(clients.jobs, deliveries, clients.work, logger, opts.jobs),
    work: new AzureWorkStore(clients.work),
    preferences: new AzurePreferenceStore(clients.prefs),
    schedules: new AzureScheduleRunStore(clients.schedules),
    inbox: new AzureInboxStore(clients.inbox),
    async ping() {
      try {
        await getRow(clients.targets, "ping", "ping"); // a point read: 404 is an answer too
      } catch (error) {
        throw new Error(`Azure Table store at ${location} does not answer: ${describe(error, secrets)}`);
      }
    },
    async close() {
      // Nothing to release: the SDK's HTTP connections close when idle.
    },
  };
}

function createClient(opts: AzureTableStoreOptions, tableName: string): TableClient {
  const retryOptions = opts.retryOptions ? { retryOptions: opts.retryOptions } : {};
  if (opts.connectionString) {
    return TableClient.fromConnectionString(opts.connectionString, tableName, {
      allowInsecureConnection: usesHttp(opts.connectionString),
      ...retryOptions,
    });
  }
  if (opts.accountUrl) {
    return new TableClient(opts.accountUrl, tableName, opts.credential ?? new DefaultAzureCredential(), {
      allowInsecureConnection: opts.accountUrl.startsWith("http:"),
      ...retryOptions,
    });
  }
  throw new Error("neither a connection string nor an account URL was given");
}

/** Plain http is only allowed when the connection string itself asks for it (Azurite). */
function usesHttp(connectionString: string): boolean {
  return /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http\s*(;|$)|TableEndpoint\s*=\s*http:|UseDevelopmentStorage\s*=\s*true)/i.test(connectionString);
}

/** The secret values inside a connection string, so no message can echo them. */
function secretsOf(connectionString: string | undefined): string[] {
  if (!connectionString) return [];
  const out: string[] = [];
  for (const part of connectionString.split(";")) {
    const [name, ...rest] = part.split("=");
    const value = rest.join("=").trim();
    if (/^\s*(AccountKey|SharedAccessSignature)\s*$/i.test(name ?? "") && value.length > 0) out.push(value);
  }
  return out;
}

function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out
    .replace(/(AccountKey|SharedAccessSignature)=[^;\s]*/gi, "$1=[redacted]")
    .replace(/([?&]sig=)[^&\s]*/gi, "$1[redacted]");
}

function describe(error: unknown, secrets: string[]): string {
  const status = (error as { statusCode?: number }).statusCode;
  const code = (error as { code?: string }).code;
  const detail = [status && `HTTP ${status}`, code].filter(Boolean).join(" ");
  const message = messageOf(error).split("\n")[0] ?? "";
  return redact(detail ? `${detail}: ${message}` : message, secrets);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withoutQuery(url: string): string {
  return url.split("?")[0]!;
}
