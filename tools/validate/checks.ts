import { checkBicep } from "./bicep";
import { checkEntraApp } from "./entra-app";
import { checkIcons } from "./icons";
import { checkManifest } from "./manifest";
import { checkOperationsDoc } from "./operations-doc";
import type { Problem } from "./problem";
import { checkTeamsappYaml } from "./teamsapp-yaml";

export interface Check {
  name: string;
  /** What passing means, printed as the check's one-line summary. */
  passed: string;
  run(root: string): Problem[];
}

/** Everything `npm run validate` checks, in order. */
export const CHECKS: readonly Check[] = [
  {
    name: "manifest",
    passed: "appPackage/manifest.json matches Microsoft's Teams manifest schema for its manifestVersion, in every env",
    run: checkManifest,
  },
  {
    name: "icons",
    passed: "color.png is 192×192; outline.png is 32×32, white on transparent",
    run: checkIcons,
  },
  {
    name: "teamsapp-yaml",
    passed: "every teamsapp*.yml matches Microsoft's Teams Toolkit YAML schema for its version",
    run: checkTeamsappYaml,
  },
  {
    name: "bicep",
    passed: "infra/**/*.bicep parses; parameters, module params, outputs for teamsapp.yml and Herald's app settings agree",
    run: checkBicep,
  },
  {
    name: "operations-queries",
    passed: "docs/operations.md quotes every workbook and alert query of infra/monitoring/queries/ as deployed",
    run: checkOperationsDoc,
  },
  {
    name: "entra-app",
    passed: "aad.manifest.json declares the tab's scope and the app roles Herald checks, pre-authorizes Teams, matches webApplicationInfo; teamsapp*.yml create and update it",
    run: checkEntraApp,
  },
];

export function formatProblem(problem: Problem): string {
  return `${problem.file}: ${problem.message}`;
}
