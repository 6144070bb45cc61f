/**
 * Reads `npm audit --json` and decides: runtime dependencies with a high or critical advisory fail the build,
 * unless the advisory is listed in tools/audit-exceptions.json with the reason (the README repeats the list).
 * When the advisory database cannot be reached (some registries and proxies refuse its POST), nothing was
 * checked: that is reported as such — never as "no vulnerabilities".
 */

export interface AuditFinding {
  /** The package the advisory is about. */
  name: string;
  severity: string;
  /** GHSA id (from the advisory URL) or the advisory's numeric source. */
  advisory: string;
  title: string;
}

export type AuditVerdict =
  | { kind: "clean"; findings: AuditFinding[]; excepted: AuditFinding[] }
  | { kind: "vulnerable"; findings: AuditFinding[]; excepted: AuditFinding[] }
  | { kind: "unchecked"; reason: string };

const BLOCKING = new Set(["high", "critical"]);

interface AuditVia { source?: number | string; name?: string; title?: string; url?: string; severity?: string }
interface AuditReport {
  vulnerabilities?: Record<string, { severity?: string; via?: Array<AuditVia | string> }>;
  statusCode?: number;
  message?: string;
  error?: { summary?: string; detail?: string; code?: string };
}

export function judgeAudit(output: string, exceptions: Record<string, string>): AuditVerdict {
  let report: AuditReport;
  try {
    report = JSON.parse(output) as AuditReport;
  } catch {
    return { kind: "unchecked", reason: `npm audit did not answer with JSON: ${output.slice(0, 200)}` };
  }
  if (!report.vulnerabilities) {
    const why = report.message ?? report.error?.summary ?? report.error?.code ?? "no report";
    return { kind: "unchecked", reason: `the advisory database could not be queried (${why})` };
  }
  const findings: AuditFinding[] = [];
  const excepted: AuditFinding[] = [];
  for (const [name, vulnerability] of Object.entries(report.vulnerabilities)) {
    for (const via of vulnerability.via ?? []) {
      if (typeof via === "string") continue; // reached through another package: that package has its own entry
      const severity = via.severity ?? vulnerability.severity ?? "unknown";
      if (!BLOCKING.has(severity)) continue;
      const advisory = /GHSA-[\w-]+/.exec(via.url ?? "")?.[0] ?? String(via.source ?? "unknown");
      const finding = { name: via.name ?? name, severity, advisory, title: via.title ?? "" };
      (exceptions[advisory] ? excepted : findings).push(finding);
    }
  }
  return { kind: findings.length > 0 ? "vulnerable" : "clean", findings, excepted };
}
