import * as fs from "node:fs";
import * as path from "node:path";
import type { Problem } from "./problem";

const QUERIES = "infra/monitoring/queries";
const DOC = "docs/operations.md";

/**
 * The workbook's and the alerts' KQL lives in infra/monitoring/queries/*.kql (Bicep loads it); docs/operations.md
 * quotes each file in a ```kusto block, word for word, so that the runbook never explains a query that is not
 * the one deployed.
 */
export function checkOperationsDoc(root: string): Problem[] {
  const dir = path.join(root, QUERIES);
  if (!fs.existsSync(dir)) return [];
  const docFile = path.join(root, DOC);
  if (!fs.existsSync(docFile)) return [{ file: DOC, message: `file not found (it documents the queries in ${QUERIES})` }];
  const blocks = new Set([...fs.readFileSync(docFile, "utf8").matchAll(/```kusto\n([\s\S]*?)```/g)].map((m) => m[1].trim()));
  const problems: Problem[] = [];
  for (const name of fs.readdirSync(dir).filter((file) => file.endsWith(".kql")).sort()) {
    const query = fs.readFileSync(path.join(dir, name), "utf8").trim();
    if (!blocks.has(query)) {
      problems.push({ file: DOC, message: `does not quote ${QUERIES}/${name} as it is (a \`\`\`kusto block with the file's exact text)` });
    }
  }
  return problems;
}
