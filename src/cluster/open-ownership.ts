/**
 * Picks how this process shares delivery partitions, from the same store setting: alone (memory; SQLite, with
 * its engine lock), or with other instances through blob leases on the Azure Storage account of the tables.
 * Backends are loaded lazily so an Azure deployment never loads SQLite's native module, and the reverse.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { Logger } from "../logger";
import type { StoreSpec } from "../store/open";
import type { HeraldStore } from "../store/types";
import type { PartitionOwnership } from "./ownership";
import { SoleOwnership } from "./sole-ownership";

export interface OwnershipOptions {
  spec: StoreSpec;
  store: HeraldStore;
  instanceId: string;
  partitionCount: number;
  leaseSeconds: number;
  sendRate: () => number;
  logger: Logger;
}

/** Unique per process, also when two processes share a host or an App Service instance id (deployment overlap). */
export function newInstanceId(): string {
  return `${os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 40)}-${process.pid}-${randomBytes(2).toString("hex")}`;
}

export async function openOwnership(options: OwnershipOptions): Promise<PartitionOwnership> {
  const { spec, store, instanceId, partitionCount, sendRate, logger } = options;
  switch (spec.kind) {
    case "memory":
      return new SoleOwnership(instanceId, partitionCount, { sendRate });
    case "sqlite": {
      const { SqliteStore } = await import("../store/sqlite");
      const { acquireEngineLock } = await import("../store/sqlite/engine-lock");
      if (!(store instanceof SqliteStore)) return new SoleOwnership(instanceId, partitionCount, { sendRate });
      return new SoleOwnership(instanceId, partitionCount, { sendRate, acquireLock: () => acquireEngineLock(store.db, store.path, instanceId) });
    }
    case "azure-table": {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { openLeaseOwnership } = require("./azure-coordination") as typeof import("./azure-coordination");
      return openLeaseOwnership({
        connectionString: spec.connectionString, accountUrl: spec.accountUrl, tablePrefix: spec.tablePrefix,
        instanceId, partitionCount, leaseSeconds: options.leaseSeconds, sendRate,
      }, logger);
    }
  }
}
