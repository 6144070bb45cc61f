/** Installs and uninstalls, as the bot sees them (bot/herald-bot.ts reports them through InstallListener). */
import type { Meter } from "@opentelemetry/api";
import type { InstallListener } from "../bot/herald-bot";

export function installMetrics(meter: Meter): InstallListener {
  const installs = meter.createCounter("herald.installs", { description: "Herald installed in a personal chat, group chat or team, by kind and tenant" });
  const uninstalls = meter.createCounter("herald.uninstalls", {
    description: "Herald uninstalled (or its team deleted), by kind, reason and tenant",
  });
  return {
    installed: (event) => installs.add(1, { kind: event.kind, tenant: event.tenantId }),
    uninstalled: (event) => uninstalls.add(1, { kind: event.kind, reason: event.reason, tenant: event.tenantId }),
  };
}
