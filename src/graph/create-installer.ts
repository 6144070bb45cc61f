/**
 * Builds a GraphAppInstaller from configuration: picks the Azure credential (client secret when one is
 * configured, else managed identity, else DefaultAzureCredential's chain) and the Graph client.
 */
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import type { Logger } from "../logger";
import { GraphAppInstaller } from "./app-installer";
import { GraphClient } from "./graph-client";

export interface GraphInstallerConfig {
  /** HERALD_GRAPH_TENANT_ID */
  tenantId?: string;
  /** HERALD_GRAPH_CLIENT_ID: the Entra app registration that holds the Graph permission. */
  clientId?: string;
  /** HERALD_GRAPH_CLIENT_SECRET */
  clientSecret?: string;
  /** AZURE_CLIENT_ID: a user-assigned managed identity. */
  managedIdentityClientId?: string;
  /** TEAMS_APP_CATALOG_ID */
  teamsAppId: string;
  /** TEAMS_APP_ID (the manifest id) */
  externalAppId?: string;
  graphBaseUrl?: string;
  concurrency?: number;
}

export function createGraphCredential(config: Pick<GraphInstallerConfig, "tenantId" | "clientId" | "clientSecret" | "managedIdentityClientId">): TokenCredential {
  if (config.clientSecret) {
    const missing = [!config.tenantId && "HERALD_GRAPH_TENANT_ID", !config.clientId && "HERALD_GRAPH_CLIENT_ID"].filter(Boolean);
    if (missing.length) throw new Error(`HERALD_GRAPH_CLIENT_SECRET is set, so ${missing.join(" and ")} must be set too`);
    return new ClientSecretCredential(config.tenantId!, config.clientId!, config.clientSecret);
  }
  if (config.managedIdentityClientId) return new ManagedIdentityCredential({ clientId: config.managedIdentityClientId });
  // No secret and no explicit identity: let the standard chain find one (system-assigned identity, az login, ...).
  return new DefaultAzureCredential(config.tenantId ? { tenantId: config.tenantId } : {});
}

export function createGraphAppInstaller(config: GraphInstallerConfig, logger: Logger): GraphAppInstaller {
  if (!config.teamsAppId?.trim()) {
    throw new Error("TEAMS_APP_CATALOG_ID must be set to the app's id in the org app catalog to install Herald through Microsoft Graph");
  }
  const graphLogger = logger.child({ component: "graph" });
  const client = new GraphClient({ credential: createGraphCredential(config), logger: graphLogger, baseUrl: config.graphBaseUrl });
  return new GraphAppInstaller({
    client,
    teamsAppId: config.teamsAppId,
    externalAppId: config.externalAppId,
    logger: graphLogger,
    concurrency: config.concurrency,
  });
}
