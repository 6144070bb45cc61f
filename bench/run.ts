/**
 * `npm run bench` (or `npx tsx bench/run.ts [part ...]`): every benchmark, one after the other, printed as JSON.
 * Parts: store-sqlite, store-azurite, install, delivery, scale, retention-sqlite, retention-azurite, update, tab
 * (needs `npm run build` first). Results are recorded in docs/benchmarks.md.
 * Benchmarks talk to 127.0.0.1 only: the connector emulator, Azurite, SQLite on a temp file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../src/logger";
import { SqliteStore } from "../src/store/sqlite";
import { openAzureTableStore } from "../src/store/azure-table";
import { startAzurite } from "../test/support/azurite";
import { benchDelivery } from "./delivery-bench";
import { benchInstallCapture } from "./install-bench";
import { benchRetention } from "./retention-bench";
import { benchScale } from "./scale-bench";
import { benchStore } from "./store-bench";
import { benchUpdate } from "./update-bench";
import { benchTab } from "./tab-bench";

const PARTS: Record<string, () => Promise<unknown>> = {
  "store-sqlite": async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-bench-"));
    const store = new SqliteStore(path.join(dir, "herald.db"), silentLogger());
    try {
      return await benchStore("sqlite", store, 100_000);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  "store-azurite": async () => {
    const azurite = await startAzurite();
    const store = await openAzureTableStore({ connectionString: azurite.connectionString, tablePrefix: `bench${Date.now()}` }, silentLogger());
    try {
      return await benchStore("azure-table (Azurite)", store, Number(process.env.BENCH_AZURITE_N) || 100_000);
    } finally {
      await store.close();
      await azurite.stop();
    }
  },
  install: () => benchInstallCapture(5000, 64),
  delivery: () => benchDelivery(),
  scale: () => benchScale(),
  "retention-sqlite": () => benchRetention("sqlite"),
  "retention-azurite": () => benchRetention("azure", Number(process.env.BENCH_RETENTION_PEOPLE) || 10_000),
  update: () => benchUpdate(),
  tab: () => benchTab(),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(PARTS);
  for (const name of wanted) {
    const run = PARTS[name];
    if (!run) throw new Error(`unknown part "${name}" (known: ${Object.keys(PARTS).join(", ")})`);
    const started = Date.now();
    const result = await run();
    console.log(JSON.stringify({ part: name, seconds: Math.round((Date.now() - started) / 100) / 10, node: process.version, cpus: os.cpus().length, result }, null, 2));
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
