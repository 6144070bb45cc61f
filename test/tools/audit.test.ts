import { strict as assert } from "node:assert";
import { judgeAudit } from "../../tools/audit/judge-audit";

/** The shape of `npm audit --json` (auditReportVersion 2). */
function report(vulnerabilities: Record<string, { severity: string; via: Array<Record<string, unknown> | string> }>): string {
  return JSON.stringify({ auditReportVersion: 2, vulnerabilities, metadata: { vulnerabilities: {} } });
}
const advisory = (name: string, severity: string, ghsa: string) =>
  ({ source: 1099999, name, dependency: name, title: `${name} does something bad`, url: `https://github.com/advisories/${ghsa}`, severity, range: "<2.0.0" });

describe("dependency audit: judging npm audit --json", () => {
  it("passes with no advisories, and with only low / moderate ones", () => {
    assert.equal(judgeAudit(report({}), {}).kind, "clean");
    assert.equal(judgeAudit(report({ lodash: { severity: "moderate", via: [advisory("lodash", "moderate", "GHSA-aaaa-bbbb-cccc")] } }), {}).kind, "clean");
  });

  it("fails on a high or critical advisory in a runtime dependency, naming it", () => {
    const verdict = judgeAudit(report({
      axios: { severity: "high", via: [advisory("axios", "high", "GHSA-wf5p-g6vw-rhxx")] },
      "@azure/core-http-compat": { severity: "high", via: ["axios"] },
      tar: { severity: "critical", via: [advisory("tar", "critical", "GHSA-r6q2-hw4h-h46w")] },
    }), {});
    assert.equal(verdict.kind, "vulnerable");
    assert.deepEqual(verdict.kind === "vulnerable" && verdict.findings.map((f) => `${f.name} ${f.advisory}`), ["axios GHSA-wf5p-g6vw-rhxx", "tar GHSA-r6q2-hw4h-h46w"]);
  });

  it("an advisory listed as an exception (with its reason) does not fail; others still do", () => {
    const output = report({
      axios: { severity: "high", via: [advisory("axios", "high", "GHSA-wf5p-g6vw-rhxx")] },
      tar: { severity: "high", via: [advisory("tar", "high", "GHSA-r6q2-hw4h-h46w")] },
    });
    const one = judgeAudit(output, { "GHSA-wf5p-g6vw-rhxx": "only reached through a code path Herald never calls" });
    assert.equal(one.kind, "vulnerable");
    assert.equal(one.kind === "vulnerable" && one.excepted[0]!.name, "axios");
    const both = judgeAudit(output, { "GHSA-wf5p-g6vw-rhxx": "reason", "GHSA-r6q2-hw4h-h46w": "reason" });
    assert.equal(both.kind, "clean");
  });

  it("an unreachable advisory database is 'not checked', never 'clean'", () => {
    const refused = JSON.stringify({ message: "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk", statusCode: 405, error: { summary: "", detail: "" } });
    const verdict = judgeAudit(refused, {});
    assert.equal(verdict.kind, "unchecked");
    assert.match(verdict.kind === "unchecked" ? verdict.reason : "", /405/);
    assert.equal(judgeAudit("npm ERR! something", {}).kind, "unchecked");
  });
});
