/**
 * `npm run emulator`: a Teams Bot Connector emulator with a seeded demo tenant, for local runs and for
 * benchmarks that want it in its own process. Control it over HTTP under /_emulator (see docs/emulator.md).
 *
 *   node dist/src/emulator/cli.js [--port 56000] [--latency ms] [--jitter ms] [--no-limits] [--time-scale 1]
 *                                 [--accept-unknown] [--app-id id] [--users 10] [--json]
 */
import { parseArgs } from "node:util";
import { ConnectorEmulator } from "./connector-emulator";
import type { EmulatorOptions } from "./types";

export const DEMO_TENANT_ID = "00000000-0000-4000-8000-00000000de00";

export function parseCliArgs(argv: string[]): { port: number; users: number; json: boolean; options: EmulatorOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "56000" },
      latency: { type: "string", default: "0" },
      jitter: { type: "string", default: "0" },
      "no-limits": { type: "boolean", default: false },
      "time-scale": { type: "string", default: "1" },
      "accept-unknown": { type: "boolean", default: false },
      "app-id": { type: "string" },
      users: { type: "string", default: "10" },
      json: { type: "boolean", default: false },
    },
  });
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got "${v}"`);
    return n;
  };
  return {
    port: num("port", values.port, 0),
    users: num("users", values.users, 1),
    json: values.json ?? false,
    options: {
      latencyMs: num("latency", values.latency, 0),
      latencyJitterMs: num("jitter", values.jitter, 0),
      limits: !values["no-limits"],
      timeScale: num("time-scale", values["time-scale"], 0.0001),
      acceptUnknownConversations: values["accept-unknown"] ?? false,
      appId: values["app-id"],
    },
  };
}

async function main(): Promise<void> {
  const { port, users, json, options } = parseCliArgs(process.argv.slice(2));
  const emulator = new ConnectorEmulator(options);
  const tenant = emulator.seed({
    tenantId: DEMO_TENANT_ID,
    users,
    teams: [{ name: "Demo Team", memberCount: users, channels: 3 }],
    groupChats: [{ memberCount: Math.min(3, users), topic: "Demo chat" }],
  });
  const url = await emulator.start(port);
  const summary = {
    serviceUrl: url,
    appId: emulator.appId,
    tenantId: tenant.tenantId,
    users: tenant.users.map((u) => ({ id: u.id, aadObjectId: u.aadObjectId, upn: u.userPrincipalName, personalConversationId: u.personalConversationId })),
    teams: tenant.teams.map((t) => ({ id: t.id, name: t.name, aadGroupId: t.aadGroupId, channels: t.channels })),
    groupChats: tenant.groupChats.map((g) => ({ id: g.id, memberIds: g.memberIds })),
  };
  if (json) {
    process.stdout.write(JSON.stringify(summary) + "\n");
  } else {
    const lines = [
      `Teams connector emulator listening on ${url}  (limits ${options.limits ? "on" : "off"}, latency ${options.latencyMs} ms)`,
      `  serviceUrl: ${url}`,
      `  appId:      ${emulator.appId}`,
      `  tenantId:   ${tenant.tenantId}`,
      `  team:       ${tenant.teams[0].id} (${tenant.teams[0].name}, ${tenant.teams[0].memberIds.length} members)`,
      `  group chat: ${tenant.groupChats[0].id}`,
      `  user1:      ${tenant.users[0].id} ${tenant.users[0].userPrincipalName} 1:1 ${tenant.users[0].personalConversationId}`,
      `  control:    GET ${url}/_emulator/stats | GET ${url}/_emulator/deliveries | GET ${url}/_emulator/tenants`,
    ];
    process.stdout.write(lines.join("\n") + "\n");
  }
  const shutdown = () => {
    emulator.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`emulator: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
