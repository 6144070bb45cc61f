/**
 * `npm run herald -- targets [--kind personal|groupChat|channel] [--tenant ID] [--status active|gone]
 *  [--team ID] [--limit N] [--json]`: the registry, as GET /api/targets shows it, straight from the store.
 */
import { parseArgs } from "node:util";
import { parseTargetQuery, publicTarget } from "../api/targets-routes";
import type { HeraldStore } from "../store/types";

export async function runTargetsCommand(args: string[], store: HeraldStore, out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kind: { type: "string" }, tenant: { type: "string" }, status: { type: "string" }, team: { type: "string" },
      limit: { type: "string", default: "50" }, json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const query = parseTargetQuery({ kind: values.kind, tenantId: values.tenant, status: values.status, teamId: values.team });
  for (const key of Object.keys(query) as (keyof typeof query)[]) if (query[key] === undefined) delete query[key];
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new Error("--limit must be a positive whole number");

  const total = await store.targets.count(query);
  const items: ReturnType<typeof publicTarget>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.targets.list(query, Math.min(1000, limit - items.length), cursor);
    items.push(...page.items.map(publicTarget));
    cursor = page.cursor;
  } while (cursor && items.length < limit);

  if (values.json) {
    out(JSON.stringify({ total, items }, null, 2));
    return 0;
  }
  out(`${total} target(s)${items.length < total ? `, showing ${items.length}` : ""}`);
  for (const t of items) {
    const where = t.kind === "channel" ? `team ${t.teamName ?? t.teamId}` : t.kind === "personal" ? (t.name ?? t.userId ?? "") : (t.name ?? "group chat");
    out(`${t.status.padEnd(6)} ${t.kind.padEnd(9)} ${where}  ${t.key}${t.goneReason ? `  (gone: ${t.goneReason})` : ""}`);
  }
  return 0;
}
