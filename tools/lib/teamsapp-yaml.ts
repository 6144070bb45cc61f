import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { listEnvironments } from "./env-file";

/** The lifecycle sections of a teamsapp*.yml that hold action steps. */
export const LIFECYCLES = ["provision", "deploy", "publish"] as const;
export type Lifecycle = (typeof LIFECYCLES)[number];

export interface TeamsappStep {
  uses?: unknown;
  with?: unknown;
  writeToEnvironmentFile?: unknown;
  [key: string]: unknown;
}

export interface ParsedTeamsappYaml {
  /** File name relative to the repo root, e.g. "teamsapp.local.yml". */
  file: string;
  text: string;
  /** The parsed content (undefined when the YAML does not parse). */
  data: Record<string, unknown> | undefined;
  syntaxErrors: { line: number; message: string }[];
  /** 1-based line of the node at `path` (e.g. ["provision", 2, "with"]), if it exists. */
  lineOf(path: readonly (string | number)[]): number | undefined;
  /** 1-based line of the key `key` in the mapping at `path`, if it exists. */
  lineOfKey(path: readonly (string | number)[], key: string): number | undefined;
}

/** teamsapp.yml first, then teamsapp.<env>.yml files, by name. */
export function teamsappYamlFiles(root: string): string[] {
  return fs
    .readdirSync(root)
    .filter((name) => /^teamsapp(\.[A-Za-z0-9_-]+)?\.yml$/.test(name))
    .sort((a, b) => (a === "teamsapp.yml" ? -1 : b === "teamsapp.yml" ? 1 : a.localeCompare(b)));
}

export function readTeamsappYaml(root: string, file: string): ParsedTeamsappYaml {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false });
  const syntaxErrors = doc.errors.map((error) => ({
    line: lineCounter.linePos(error.pos[0]).line,
    message: error.message.split("\n")[0],
  }));
  const data = syntaxErrors.length ? undefined : (doc.toJS() as unknown);
  return {
    file,
    text,
    data: data && typeof data === "object" && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined,
    syntaxErrors,
    lineOf(nodePath) {
      const node = nodePath.length ? doc.getIn(nodePath, true) : doc.contents;
      return isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
    },
    lineOfKey(nodePath, key) {
      const map = nodePath.length ? doc.getIn(nodePath, true) : doc.contents;
      if (!isMap(map)) return undefined;
      const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
      const range = pair && isNode(pair.key) ? pair.key.range : undefined;
      return range ? lineCounter.linePos(range[0]).line : undefined;
    },
  };
}

/** The steps of a lifecycle, index for index (an entry that is not a mapping becomes an empty step). */
export function stepsOf(data: Record<string, unknown> | undefined, lifecycle: Lifecycle): TeamsappStep[] {
  const steps = data?.[lifecycle];
  if (!Array.isArray(steps)) return [];
  return steps.map((step: unknown) => (step && typeof step === "object" && !Array.isArray(step) ? (step as TeamsappStep) : {}));
}

/** The environments a teamsapp*.yml serves: teamsapp.<env>.yml serves <env>; teamsapp.yml serves all the others. */
export function environmentsServedBy(root: string, file: string): string[] {
  const own = /^teamsapp\.(.+)\.yml$/.exec(file)?.[1];
  if (own) return [own];
  const withOwnFile = new Set(teamsappYamlFiles(root).map((name) => /^teamsapp\.(.+)\.yml$/.exec(name)?.[1]));
  return listEnvironments(root).filter((env) => !withOwnFile.has(env));
}

/**
 * Variables an action outputs without naming them in `writeToEnvironmentFile` (per the v1.8 schema's descriptions):
 * aadApp/update generates the access_as_user scope's id when the Entra manifest uses it and it is empty.
 */
const IMPLICIT_OUTPUTS: Record<string, string[]> = {
  "aadApp/update": ["AAD_APP_ACCESS_AS_USER_PERMISSION_ID"],
};

/** Env var names that actions of this file write (`writeToEnvironmentFile: { key: VAR }`, and implicit outputs). */
export function variablesWrittenByActions(data: Record<string, unknown> | undefined): Set<string> {
  const written = new Set<string>();
  for (const lifecycle of LIFECYCLES) {
    for (const step of stepsOf(data, lifecycle)) {
      for (const name of IMPLICIT_OUTPUTS[String(step.uses)] ?? []) written.add(name);
      const targets = step.writeToEnvironmentFile;
      if (targets && typeof targets === "object") {
        for (const name of Object.values(targets)) if (typeof name === "string") written.add(name);
      }
    }
  }
  return written;
}
