import * as fs from "node:fs";
import * as path from "node:path";
import type { ErrorObject, ValidateFunction } from "ajv";
import { ajvFor, meaningfulErrors, readJsonFile } from "../lib/json-schema";
import { TOOLS_REPO_ROOT } from "../lib/repo-root";
import { LIFECYCLES, readTeamsappYaml, stepsOf, teamsappYamlFiles, type ParsedTeamsappYaml } from "../lib/teamsapp-yaml";
import type { Problem } from "./problem";

/** Microsoft's Teams Toolkit YAML schemas, copied from npm @microsoft/teamsapp-cli (see the README there). */
export const YAML_SCHEMA_DIR = path.join(TOOLS_REPO_ROOT, "tools", "schemas", "teamsapp-yaml");

export function availableYamlSchemaVersions(): string[] {
  return fs.readdirSync(YAML_SCHEMA_DIR).filter((name) => fs.existsSync(path.join(YAML_SCHEMA_DIR, name, "yaml.schema.json")));
}

interface YamlSchema {
  validate: ValidateFunction;
  /** Validators of the individual actions, by their `uses` value (e.g. "arm/deploy"). */
  actions: Map<string, ValidateFunction>;
}

const schemas = new Map<string, YamlSchema>();

function yamlSchema(version: string): YamlSchema | undefined {
  const file = path.join(YAML_SCHEMA_DIR, version, "yaml.schema.json");
  if (!/^[A-Za-z0-9.]+$/.test(version) || !fs.existsSync(file)) return undefined;
  const cached = schemas.get(version);
  if (cached) return cached;
  const schema = readJsonFile(file);
  const ajv = ajvFor(schema);
  ajv.addSchema(schema, "teamsapp");
  const actions = new Map<string, ValidateFunction>();
  const definitions = (schema.definitions ?? {}) as Record<string, { properties?: { uses?: { const?: unknown } } }>;
  for (const [name, definition] of Object.entries(definitions)) {
    const uses = definition.properties?.uses?.const;
    const validate = ajv.getSchema(`teamsapp#/definitions/${name}`);
    if (typeof uses === "string" && validate) actions.set(uses, validate);
  }
  const validate = ajv.getSchema("teamsapp");
  if (!validate) throw new Error(`cannot compile ${file}`);
  const loaded = { validate, actions };
  schemas.set(version, loaded);
  return loaded;
}

/** "with.templates[0].path" style location for an Ajv instance path. */
function location(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((out, segment) => (/^\d+$/.test(segment) ? `${out}[${segment}]` : out ? `${out}.${segment}` : segment), "");
}

function describe(error: ErrorObject, base: string): string {
  const at = location(error.instancePath) || base;
  const where = at ? `${at}: ` : "";
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `${where}unknown property '${String(params.additionalProperty)}'`;
    case "required":
      return `${where}missing required property '${String(params.missingProperty)}'`;
    case "const":
      return `${where}must be ${JSON.stringify(params.allowedValue)}`;
    case "enum":
      return `${where}must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${where}${error.message ?? error.keyword}`;
  }
}

function pathSegments(instancePath: string): (string | number)[] {
  return instancePath
    .split("/")
    .slice(1)
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment.replace(/~1/g, "/").replace(/~0/g, "~")));
}

/** The line an error is about: the unknown key itself for "unknown property", else the node it is about. */
function lineOfError(parsed: ParsedTeamsappYaml, base: (string | number)[], error: ErrorObject): number | undefined {
  const segments = [...base, ...pathSegments(error.instancePath)];
  const unknownKey = (error.params as { additionalProperty?: string }).additionalProperty;
  return unknownKey ? parsed.lineOfKey(segments, unknownKey) : parsed.lineOf(segments);
}

/** Checks each step against the schema of its own action, so a mistake yields one message, not one per action. */
function stepProblems(parsed: ParsedTeamsappYaml, schema: YamlSchema): { problems: string[]; coveredPaths: string[] } {
  const problems: string[] = [];
  const coveredPaths: string[] = [];
  for (const lifecycle of LIFECYCLES) {
    stepsOf(parsed.data, lifecycle).forEach((step, index) => {
      coveredPaths.push(`/${lifecycle}/${index}`);
      const line = parsed.lineOf([lifecycle, index]);
      const at = `${lifecycle} step ${index + 1}${line ? ` (line ${line})` : ""}`;
      const uses = step.uses;
      if (typeof uses !== "string") {
        problems.push(`${at}: missing required property 'uses'`);
        return;
      }
      const validate = schema.actions.get(uses);
      if (!validate) {
        problems.push(`${at}: unknown action '${uses}'`);
        return;
      }
      if (validate(step)) return;
      for (const error of meaningfulErrors(validate.errors ?? [])) {
        const errorLine = lineOfError(parsed, [lifecycle, index], error);
        const where = errorLine && errorLine !== line ? `${lifecycle} step ${index + 1} (line ${errorLine})` : at;
        problems.push(`${where} ${uses}: ${describe(error, "step")}`);
      }
    });
  }
  return { problems, coveredPaths };
}

function checkFile(root: string, file: string): Problem[] {
  const problem = (message: string): Problem => ({ file, message });
  const parsed = readTeamsappYaml(root, file);
  if (parsed.syntaxErrors.length) {
    return parsed.syntaxErrors.map((error) => problem(`line ${error.line}: YAML syntax error: ${error.message}`));
  }
  if (!parsed.data) return [problem("is not a YAML mapping")];
  const version = parsed.data.version;
  if (version === undefined) return [problem("has no 'version' (e.g. version: v1.8)")];
  if (typeof version !== "string") return [problem(`version must be a string such as v1.8, not ${JSON.stringify(version)}`)];
  const schema = yamlSchema(version);
  if (!schema) {
    return [problem(`version '${version}' has no schema in tools/schemas/teamsapp-yaml (it has ${availableYamlSchemaVersions().join(", ")})`)];
  }

  const problems: Problem[] = [];
  const declared = /yaml-language-server:\s*\$schema=\S*?\/(v[\d.]+)\/yaml\.schema\.json/.exec(parsed.text)?.[1];
  if (declared && declared !== version) {
    problems.push(problem(`the yaml-language-server $schema comment is for ${declared} but the file declares version ${version}`));
  }
  if (schema.validate(parsed.data)) return problems;

  const { problems: inSteps, coveredPaths } = stepProblems(parsed, schema);
  problems.push(...inSteps.map(problem));
  const isInStep = (instancePath: string) => coveredPaths.some((step) => instancePath === step || instancePath.startsWith(`${step}/`));
  for (const error of meaningfulErrors(schema.validate.errors ?? [])) {
    if (isInStep(error.instancePath)) continue;
    const line = lineOfError(parsed, [], error);
    problems.push(problem(`${line ? `line ${line}: ` : ""}${describe(error, "")}`));
  }
  if (!problems.length) problems.push(problem(`does not match the Teams Toolkit YAML schema ${version}`));
  return problems;
}

/** Every teamsapp*.yml against Microsoft's Teams Toolkit YAML schema for the version it declares. */
export function checkTeamsappYaml(root: string): Problem[] {
  const files = teamsappYamlFiles(root);
  if (!files.includes("teamsapp.yml")) return [{ file: "teamsapp.yml", message: "file not found" }];
  return files.flatMap((file) => checkFile(root, file));
}
