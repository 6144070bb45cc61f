/**
 * Picks and opens a storage backend from `HERALD_STORE` (parsed by config.ts through `parseStoreSpec`).
 */
import type { TokenCredential } from "@azure/identity";
import type { Logger } from "../logger";
import type { HeraldStore } from "./types";

export const DEFAULT_STORE_PATH = ".herald/herald.db";

export type StoreSpec =
  | { kind: "memory" }
  | { kind: "sqlite"; path: string }
  | { kind: "azure-table"; connectionString?: string; accountUrl?: string; tablePrefix: string };

/** What src/store/azure-table/index.ts provides (loaded lazily so SQLite users never load the Azure SDK). */
interface AzureTableModule {
  openAzureTableStore(
    opts: { connectionString?: string; accountUrl?: string; tablePrefix: string; credential?: TokenCredential },
    logger: Logger,
  ): Promise<HeraldStore>;
}

export async function openStore(spec: StoreSpec, logger: Logger): Promise<HeraldStore> {
  switch (spec.kind) {
    case "memory": {
      const { MemoryStore } = await import("./memory");
      logger.warn("using the in-memory store: targets and jobs are lost when Herald stops");
      return new MemoryStore();
    }
    case "sqlite": {
      const { SqliteStore } = await import("./sqlite");
      const store = new SqliteStore(spec.path, logger);
      logger.info({ store: "sqlite", path: store.path }, "store opened");
      return store;
    }
    case "azure-table": {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { openAzureTableStore } = require("./azure-table") as AzureTableModule;
      const store = await openAzureTableStore(
        { connectionString: spec.connectionString, accountUrl: spec.accountUrl, tablePrefix: spec.tablePrefix },
        logger,
      );
      // Never the connection string: it carries the account key.
      logger.info({ store: "azure-table", accountUrl: spec.accountUrl, tablePrefix: spec.tablePrefix }, "store opened");
      return store;
    }
  }
}

const ACCEPTED_FORMS = [
  `unset or empty → SQLite at ${DEFAULT_STORE_PATH}`,
  `"memory" → in memory, lost on restart (tests, demos)`,
  `"sqlite:<path>" or a path ending in .db / .sqlite / .sqlite3 → SQLite at that path`,
  `"azure-table:<connection string>" → Azure Table Storage, e.g. azure-table:UseDevelopmentStorage=true or azure-table:DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net`,
  `"azure-table:https://<account>.table.core.windows.net" → Azure Table Storage with managed identity (DefaultAzureCredential)`,
];

/** Parses the `HERALD_STORE` value. Throws an Error naming HERALD_STORE and the accepted forms. */
export function parseStoreSpec(value: string | undefined, tablePrefix = "herald"): StoreSpec {
  const raw = (value ?? "").trim();
  if (raw === "") return { kind: "sqlite", path: DEFAULT_STORE_PATH };
  const lower = raw.toLowerCase();
  if (lower === "memory") return { kind: "memory" };

  if (lower.startsWith("sqlite:")) {
    const path = raw.slice("sqlite:".length).trim();
    if (path === "") throw invalid(raw, "sqlite: needs a file path");
    return { kind: "sqlite", path };
  }

  if (lower.startsWith("azure-table:")) {
    const rest = raw.slice("azure-table:".length).trim();
    if (rest === "") throw invalid(raw, "azure-table: needs a connection string or an account URL");
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) return { kind: "azure-table", accountUrl: parseAccountUrl(raw, rest), tablePrefix };
    checkConnectionString(raw, rest);
    return { kind: "azure-table", connectionString: rest, tablePrefix };
  }

  // A bare file path, unless it starts like a (mistyped) scheme; one letter before ':' is a Windows drive.
  const looksLikeScheme = /^[a-z][a-z0-9+.-]+:/i.test(raw);
  if (/\.(db|sqlite|sqlite3)$/i.test(raw) && !looksLikeScheme) return { kind: "sqlite", path: raw };
  throw invalid(raw);
}

function parseAccountUrl(raw: string, rest: string): string {
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw invalid(raw, "the account URL is not a valid URL");
  }
  if (url.protocol !== "https:") throw invalid(raw, "the account URL must be https:// (managed identity needs TLS)");
  if (url.username || url.password || url.search) {
    throw invalid(raw, "the account URL must not carry credentials or a SAS token; use a connection string for that");
  }
  return url.toString().replace(/\/$/, "");
}

/** A connection string is `Key=Value;Key=Value`; it must name the account or the emulator. */
function checkConnectionString(raw: string, rest: string): void {
  const keys = new Set<string>();
  for (const part of rest.split(";")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw invalid(raw, "a connection string is a list of Key=Value pairs separated by ';'");
    keys.add(part.slice(0, eq).trim().toLowerCase());
  }
  const names = ["usedevelopmentstorage", "accountname", "tableendpoint", "sharedaccesssignature"];
  if (!names.some((k) => keys.has(k))) {
    throw invalid(raw, "the connection string names no account (AccountName, TableEndpoint or UseDevelopmentStorage)");
  }
}

function invalid(raw: string, why?: string): Error {
  return new Error(
    `HERALD_STORE is invalid${why ? ` (${why})` : ""}: got "${redactStoreValue(raw)}". Accepted forms:\n` +
      ACCEPTED_FORMS.map((f) => `  - ${f}`).join("\n"),
  );
}

/** Hides account keys, SAS signatures and URL passwords, so an error or a log line never carries them. */
export function redactStoreValue(value: string): string {
  const redacted = value
    .replace(/(AccountKey\s*=)[^;]*/gi, "$1[redacted]")
    .replace(/(SharedAccessSignature\s*=)[^;]*/gi, "$1[redacted]")
    .replace(/([?&]sig=)[^&;]*/gi, "$1[redacted]")
    .replace(/(\/\/)[^/@\s]+@/g, "$1[redacted]@");
  return redacted.length > 300 ? `${redacted.slice(0, 300)}…` : redacted;
}
