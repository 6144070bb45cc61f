/**
 * `npm run validate` (or `npx tsx tools/validate.ts [--root <dir>]`): checks the Teams app package, the Teams
 * Toolkit YAML and the Bicep offline. Prints every problem and exits 1, or prints one line per passed check.
 */
import * as path from "node:path";
import { findRepoRoot } from "./lib/repo-root";
import { CHECKS, formatProblem } from "./validate/checks";

function main(argv: string[]): number {
  const rootFlag = argv.indexOf("--root");
  const root = rootFlag >= 0 && argv[rootFlag + 1] ? path.resolve(argv[rootFlag + 1]) : findRepoRoot(process.cwd());
  let failed = 0;
  const summaries: string[] = [];
  for (const check of CHECKS) {
    let problems;
    try {
      problems = check.run(root);
    } catch (error) {
      problems = [{ file: "(validator)", message: `${check.name} check crashed: ${(error as Error).stack ?? String(error)}` }];
    }
    if (problems.length) {
      failed += problems.length;
      for (const problem of problems) console.error(`✗ ${check.name}: ${formatProblem(problem)}`);
    } else {
      summaries.push(`✓ ${check.name}: ${check.passed}`);
    }
  }
  if (failed) {
    console.error(`\n${failed} problem(s) found in ${root}`);
    return 1;
  }
  for (const line of summaries) console.log(line);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
