/**
 * LeaseOwnership on Azure Storage: partition leases on blobs (container `<prefix>-leases`, blob
 * `partition-NNNN`, the partition count in the container's metadata) and heartbeat rows in the table
 * `<prefix>instances`. Same account and credential as the tables: a connection string locally (Azurite), the
 * account URL and the managed identity in Azure.
 */
import { TableClient } from "@azure/data-tables";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from "@azure/storage-blob";
import type { Logger } from "../logger";
import { encodeKey } from "../store/azure-table/keys";
import { isConflict, isNotFound, literal, numberOf, queryRows } from "../store/azure-table/table-helpers";
import { LeaseOwnership, type InstanceRecord, type InstanceRegistry, type LeaseOwnershipOptions, type LeaseStore } from "./lease-ownership";

export class PartitionCountMismatchError extends Error {
  override readonly name = "PartitionCountMismatchError";
  constructor(readonly configured: number, readonly recorded: number, where: string) {
    super(`HERALD_PARTITIONS is ${configured} but the store was set up with ${recorded} partitions (${where}). ` +
      `The count is fixed for a store: set HERALD_PARTITIONS=${recorded}.`);
  }
}

const blobName = (partition: number) => `partition-${String(partition).padStart(4, "0")}`;

export class BlobLeaseStore implements LeaseStore {
  constructor(private readonly container: ContainerClient) {}

  async prepare(partitionCount: number): Promise<void> {
    await this.container.createIfNotExists();
    const recorded = Number((await this.container.getProperties()).metadata?.partitions);
    if (Number.isInteger(recorded) && recorded > 0) {
      if (recorded !== partitionCount) throw new PartitionCountMismatchError(partitionCount, recorded, `container ${this.container.containerName}`);
    } else {
      await this.container.setMetadata({ partitions: String(partitionCount) });
    }
    const existing = new Set<string>();
    for await (const blob of this.container.listBlobsFlat({ prefix: "partition-" })) existing.add(blob.name);
    const missing = Array.from({ length: partitionCount }, (_, p) => blobName(p)).filter((name) => !existing.has(name));
    await Promise.all(missing.map(async (name) => {
      try {
        await this.container.getBlockBlobClient(name).upload("", 0, { conditions: { ifNoneMatch: "*" } });
      } catch (error) {
        // Another instance created it first (409 BlobAlreadyExists, or 412 with a lease already on it).
        if (!isConflict(error) && statusOf(error) !== 412) throw error;
      }
    }));
  }

  async acquire(partition: number, leaseId: string, seconds: number): Promise<boolean> {
    try {
      await this.container.getBlobClient(blobName(partition)).getBlobLeaseClient(leaseId).acquireLease(seconds);
      return true;
    } catch (error) {
      if (isConflict(error)) return false; // LeaseAlreadyPresent
      throw error;
    }
  }

  async renew(partition: number, leaseId: string): Promise<"renewed" | "lost"> {
    try {
      await this.container.getBlobClient(blobName(partition)).getBlobLeaseClient(leaseId).renewLease();
      return "renewed";
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return "lost"; // another lease id holds it, or it was broken
      throw error;
    }
  }

  async release(partition: number, leaseId: string): Promise<void> {
    try {
      await this.container.getBlobClient(blobName(partition)).getBlobLeaseClient(leaseId).releaseLease();
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error; // not ours any more: nothing to release
    }
  }
}

const INSTANCE = "instance";

export class TableInstanceRegistry implements InstanceRegistry {
  constructor(private readonly table: TableClient) {}

  async put(record: InstanceRecord): Promise<void> {
    await this.table.upsertEntity({
      partitionKey: INSTANCE, rowKey: encodeKey(record.id), id: record.id, host: record.host, pid: record.pid, startedAt: record.startedAt,
      state: record.state, partitions: record.partitions.join(","), sendRatePerSec: { value: record.sendRatePerSec, type: "Double" }, seq: record.seq,
    }, "Replace");
  }

  async list(): Promise<InstanceRecord[]> {
    const rows = await queryRows(this.table, `PartitionKey eq ${literal(INSTANCE)}`, 10_000);
    return rows.map((row) => ({
      id: String(row.id), host: String(row.host ?? ""), pid: numberOf(row, "pid") ?? 0, startedAt: String(row.startedAt ?? ""),
      state: row.state === "stopping" ? "stopping" : "running",
      partitions: String(row.partitions ?? "").split(",").filter(Boolean).map(Number),
      sendRatePerSec: numberOf(row, "sendRatePerSec") ?? 0, seq: numberOf(row, "seq") ?? 0,
    }));
  }

  async remove(id: string): Promise<void> {
    try {
      await this.table.deleteEntity(INSTANCE, encodeKey(id));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

export interface AzureCoordinationOptions {
  connectionString?: string;
  /** `https://<account>.table.core.windows.net`: the blob endpoint is the same account's. */
  accountUrl?: string;
  credential?: TokenCredential;
  tablePrefix: string;
}

/** The container and table names for a table prefix (containers are lower-case, 3–63 characters). */
export function coordinationNames(tablePrefix: string): { container: string; table: string } {
  const prefix = tablePrefix || "herald";
  return { container: `${prefix.toLowerCase()}-leases`, table: `${prefix}instances` };
}

export async function openLeaseOwnership(
  options: AzureCoordinationOptions & Omit<LeaseOwnershipOptions, "leases" | "registry" | "logger">,
  logger: Logger,
): Promise<LeaseOwnership> {
  const names = coordinationNames(options.tablePrefix);
  const pipeline: StoragePipelineOptions = { retryOptions: { maxTries: 2, tryTimeoutInMs: 5000 } };
  let blobs: BlobServiceClient;
  let table: TableClient;
  if (options.connectionString) {
    if (/(^|;)\s*TableEndpoint\s*=/i.test(options.connectionString) && !/(^|;)\s*BlobEndpoint\s*=/i.test(options.connectionString)) {
      throw new Error("HERALD_STORE's connection string names a TableEndpoint but no BlobEndpoint; Herald's instances share work " +
        "through blob leases on the same account, so add BlobEndpoint=… (Azurite: start its blob service too)");
    }
    blobs = BlobServiceClient.fromConnectionString(options.connectionString, pipeline);
    table = TableClient.fromConnectionString(options.connectionString, names.table, {
      allowInsecureConnection: /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http\s*(;|$)|TableEndpoint\s*=\s*http:|UseDevelopmentStorage\s*=\s*true)/i.test(options.connectionString),
    });
  } else if (options.accountUrl) {
    const credential = options.credential ?? new DefaultAzureCredential();
    blobs = new BlobServiceClient(blobEndpointOf(options.accountUrl), credential, pipeline);
    table = new TableClient(options.accountUrl, names.table, credential);
  } else {
    throw new Error("the lease ownership needs a connection string or an account URL");
  }
  await table.createTable();
  return new LeaseOwnership({
    ...options,
    leases: new BlobLeaseStore(blobs.getContainerClient(names.container)),
    registry: new TableInstanceRegistry(table),
    logger,
  });
}

/** `https://acct.table.core.windows.net` → `https://acct.blob.core.windows.net` (any cloud's suffix). */
export function blobEndpointOf(tableAccountUrl: string): string {
  const url = new URL(tableAccountUrl);
  const host = url.hostname.replace(/\.table\./i, ".blob.");
  if (host === url.hostname) throw new Error(`cannot derive the blob endpoint from ${url.origin} (expected <account>.table.<suffix>)`);
  return `${url.protocol}//${host}${url.port ? `:${url.port}` : ""}`;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : undefined;
}
