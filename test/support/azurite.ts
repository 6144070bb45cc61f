/**
 * Test fixture: a private Azurite Table service on 127.0.0.1 and a free port, in memory.
 *
 *   let azurite: AzuriteTable;
 *   before(async () => { azurite = await startAzurite(); });
 *   after(async () => { await azurite?.stop(); });
 *
 * Azurite runs as a forked Node process (node_modules/azurite, no global install). A preloaded watchdog makes
 * it exit when this process goes away for any reason (even SIGKILL), so a crashed test run leaves no orphan.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface AzuriteTable {
  /** Shared-key connection string for Azurite's well-known development account (with BlobEndpoint when started). */
  connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  tableUrl: string;
  /** Present when started with `{ blob: true }`. */
  blobUrl?: string;
  stop(): Promise<void>;
}

const ACCOUNT = "devstoreaccount1";
const START_TIMEOUT_MS = 20_000;

/** Azurite's public development key, read from Azurite itself so no key literal lives in this repo. */
function developmentAccountKey(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const constants = require("azurite/dist/src/common/utils/constants") as { EMULATOR_ACCOUNT_KEY: Buffer };
  return constants.EMULATOR_ACCOUNT_KEY.toString("base64");
}

function azuriteMain(service: "table" | "blob"): string {
  return path.join(path.dirname(require.resolve("azurite/package.json")), "dist", "src", service, "main.js");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => { socket.destroy(); resolve(false); });
  });
}

/**
 * Preloaded into the Azurite child: when its IPC channel to the test process closes (stop(), or the test
 * process died), it removes its temp dir (which holds this file) and exits.
 */
const WATCHDOG = `process.on("disconnect", () => {
  try { require("node:fs").rmSync(__dirname, { recursive: true, force: true }); } catch {}
  process.exit(0);
});
`;

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function launch(dir: string, watchdog: string, port: number, service: "table" | "blob" = "table"): Promise<ChildProcess> {
  const child = fork(
    azuriteMain(service),
    [
      `--${service}Host`, "127.0.0.1", `--${service}Port`, String(port),
      "--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableProductStyleUrl", "--loose",
      "--disableTelemetry",
    ],
    // No --location (Azurite refuses it with --inMemoryPersistence): the temp dir as cwd catches anything it writes.
    { cwd: dir, execArgv: ["--require", watchdog], stdio: ["ignore", "pipe", "pipe", "ipc"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  child.stderr?.on("data", (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`azurite-${service} exited during start (code ${child.exitCode}, signal ${child.signalCode}): ${output.trim()}`);
    }
    if (await canConnect(port)) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGKILL");
  await waitForExit(child);
  throw new Error(`azurite-${service} did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${output.trim()}`);
}

async function stopChild(running: ChildProcess): Promise<void> {
  if (running.exitCode === null && running.signalCode === null) {
    const exited = waitForExit(running);
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (running.connected) running.disconnect();
}

/** The port is free when we pick it, but another process may grab it before Azurite binds: retry then. */
async function launchOnFreePort(dir: string, watchdog: string, service: "table" | "blob"): Promise<{ child: ChildProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return { child: await launch(dir, watchdog, port, service), port };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** Azurite's Table service, and its Blob service too with `{ blob: true }` (leases for several instances). */
export async function startAzurite(options: { blob?: boolean } = {}): Promise<AzuriteTable> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "herald-azurite-"));
  const watchdog = path.join(dir, "watchdog.js");
  await writeFile(watchdog, WATCHDOG);
  const children: ChildProcess[] = [];
  try {
    const table = await launchOnFreePort(dir, watchdog, "table");
    children.push(table.child);
    const tableUrl = `http://127.0.0.1:${table.port}/${ACCOUNT}`;
    let blobUrl: string | undefined;
    if (options.blob) {
      const blob = await launchOnFreePort(dir, watchdog, "blob");
      children.push(blob.child);
      blobUrl = `http://127.0.0.1:${blob.port}/${ACCOUNT}`;
    }
    return {
      connectionString:
        `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};` +
        `AccountKey=${developmentAccountKey()};TableEndpoint=${tableUrl};` + (blobUrl ? `BlobEndpoint=${blobUrl};` : ""),
      tableUrl,
      ...(blobUrl ? { blobUrl } : {}),
      async stop() {
        await Promise.all(children.map(stopChild));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(children.map(stopChild));
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
