/** `npm run herald -- notifications [--limit N] [--json]`: the most recent notifications, newest first. */
import { parseArgs } from "node:util";
import type { HeraldApiClient } from "./api-client";

export async function runNotificationsCommand(args: string[], client: HeraldApiClient, out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({ args, options: { limit: { type: "string", default: "20" }, json: { type: "boolean", default: false } }, strict: true });
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new Error("--limit must be a whole number from 1 to 200");
  const { items } = await client.notifications(limit);
  if (values.json) {
    out(JSON.stringify(items, null, 2));
    return 0;
  }
  if (items.length === 0) {
    out("no notifications yet");
    return 0;
  }
  for (const n of items) {
    const c = n.counts;
    out(`${n.createdAt.slice(0, 19).replace("T", " ")}  ${n.status.padEnd(9)}  ${`${c.sent}/${c.total} sent`.padEnd(16)}` +
      `${c.failed} failed, ${c.gone} gone, ${c.pending} pending  ${n.id}  ${n.title}`);
  }
  return 0;
}
