/**
 * `npm run audit:runtime`: `npm audit --omit=dev`, failing on high or critical advisories in what Herald runs
 * with (tools/audit/judge-audit.ts). Exceptions, each with its reason: tools/audit-exceptions.json and the README.
 * If the advisory database cannot be reached it says so loudly; HERALD_AUDIT_REQUIRED=1 makes that a failure too.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { judgeAudit } from "./audit/judge-audit";
import { findRepoRoot } from "./lib/repo-root";

function main(): number {
  const root = findRepoRoot(process.cwd());
  const exceptions = JSON.parse(readFileSync(path.join(root, "tools", "audit-exceptions.json"), "utf8")) as Record<string, string>;
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const run = spawnSync(npm, ["audit", "--omit=dev", "--json"], { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const verdict = judgeAudit(run.stdout || run.stderr || "", exceptions);
  if (verdict.kind === "unchecked") {
    console.error(`⚠ npm audit: NOT CHECKED — ${verdict.reason}`);
    return process.env.HERALD_AUDIT_REQUIRED === "1" ? 1 : 0;
  }
  for (const f of verdict.excepted) console.log(`• excepted ${f.advisory} (${f.severity}) in ${f.name}: ${exceptions[f.advisory]}`);
  for (const f of verdict.findings) console.error(`✗ ${f.advisory} (${f.severity}) in ${f.name}: ${f.title}`);
  if (verdict.kind === "vulnerable") {
    console.error(`\n${verdict.findings.length} high/critical advisory(ies) in runtime dependencies: upgrade, or add each to tools/audit-exceptions.json and the README with its reason`);
    return 1;
  }
  console.log("✓ npm audit: no high or critical advisory in runtime dependencies");
  return 0;
}

process.exit(main());
