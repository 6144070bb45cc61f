/**
 * An in-process Herald wired to the repo's connector emulator: real restify on 127.0.0.1, real botbuilder,
 * the activity driver playing Teams. Each fixture has its own store, emulator and port.
 */
import { createHerald, type Herald, type HeraldOverrides } from "../../src/app";
import { loadConfig, type HeraldConfig } from "../../src/config";
import { silentLogger, type Logger } from "../../src/logger";
import { ActivityDriver } from "../../src/emulator/activity-driver";
import { ConnectorEmulator } from "../../src/emulator/connector-emulator";
import type { EmulatorOptions, SeededTenant, TenantSpec } from "../../src/emulator/types";
import { MemoryStore } from "../../src/store/memory";
import type { HeraldStore } from "../../src/store/types";

export interface HeraldFixture {
  herald: Herald;
  store: HeraldStore;
  url: string;
  emulator: ConnectorEmulator;
  serviceUrl: string;
  driver: ActivityDriver;
  tenant: SeededTenant;
  /** JSON request against Herald's API. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** Waits for the roster syncs that installs in teams and group chats start after their turn. */
  rostersSynced(): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_TENANT: TenantSpec = {
  tenantId: "tenant-contoso",
  users: 6,
  teams: [{ name: "Operations", memberCount: 5, channels: 2 }],
  groupChats: [{ memberCount: 3, topic: "Release crew" }],
};

export async function startHerald(options: {
  env?: Record<string, string>;
  store?: HeraldStore;
  emulator?: EmulatorOptions;
  tenant?: TenantSpec;
  overrides?: HeraldOverrides;
  logger?: Logger;
} = {}): Promise<HeraldFixture> {
  const emulator = new ConnectorEmulator({ limits: false, ...options.emulator });
  const serviceUrl = await emulator.start();
  const tenant = emulator.seed(options.tenant ?? DEFAULT_TENANT);
  const config: HeraldConfig = loadConfig({ PORT: "0", HERALD_STORE: "memory", ...options.env });
  const store = options.store ?? new MemoryStore();
  const herald = await createHerald(config, options.logger ?? silentLogger(), { store, ...options.overrides });
  const url = await herald.start();
  const driver = new ActivityDriver({ botEndpoint: `${url}/api/messages`, serviceUrl });
  return {
    herald, store, url, emulator, serviceUrl, driver, tenant,
    async api(method, path, body, headers = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON: the test will say so */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async rostersSynced() {
      // Roster reads are work items run by the partition's owner (this process): wait until none is left.
      await eventually(async () => (await herald.store.work.list()).every((w) => w.kind !== "roster"), "roster syncs", 20_000);
      await herald.engine.idle();
    },
    async stop() {
      driver.close();
      await herald.stop();
      await emulator.stop();
    },
  };
}

/** Polls until `check` returns a truthy value (background work lands asynchronously). */
export async function eventually<T>(check: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** Every text in a posted activity, card contents included. */
export function activityText(activity: Record<string, unknown> | undefined): string {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if ((key === "text" || key === "title") && typeof value === "string") texts.push(value);
        else walk(value);
      }
    }
  };
  walk(activity);
  return texts.join("\n");
}
