import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENT, type AzureSetting } from "../../src/config";
import { appSettings, loadedFiles, objectKeys, parseBicep, type BicepFile } from "../lib/bicep";
import { readEnvironmentFile } from "../lib/env-file";
import { placeholderNames } from "../lib/placeholders";
import { relativeToRoot } from "../lib/repo-root";
import {
  environmentsServedBy,
  LIFECYCLES,
  readTeamsappYaml,
  stepsOf,
  variablesWrittenByActions,
  type TeamsappStep,
} from "../lib/teamsapp-yaml";
import type { Problem } from "./problem";

const TEAMSAPP_YML = "teamsapp.yml";
const DEFAULT_TEMPLATE = { template: "infra/azure.bicep", parameters: "infra/azure.parameters.json" };

/** App Service's own settings: the platform reads them, not Herald. */
const PLATFORM_SETTING = /^(WEBSITE_|WEBSITES_|SCM_|XDT_|DIAGNOSTICS_|APPSERVICEAPPLOGS_)/;

/** Variables Teams Toolkit sets itself during provision, so no template has to output them. */
const TOOLKIT_VARIABLES = new Set([
  "TEAMSFX_ENV",
  "AZURE_SUBSCRIPTION_ID",
  "AZURE_RESOURCE_GROUP_NAME",
  "RESOURCE_SUFFIX",
  "TEAMS_APP_TENANT_ID",
]);

function bicepFilesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepFilesUnder(full);
    return entry.name.endsWith(".bicep") ? [full] : [];
  });
}

function armDeploySteps(data: Record<string, unknown> | undefined): { index: number; step: TeamsappStep }[] {
  return stepsOf(data, "provision")
    .map((step, index) => ({ index, step }))
    .filter(({ step }) => step.uses === "arm/deploy");
}

/** The Bicep templates (and parameter files) teamsapp.yml deploys, relative to the root. */
function deployedTemplates(data: Record<string, unknown> | undefined): { template: string; parameters?: string }[] {
  const templates = armDeploySteps(data).flatMap(({ step }) => {
    const list = (step.with as { templates?: unknown } | undefined)?.templates;
    return Array.isArray(list) ? (list as { path?: unknown; parameters?: unknown }[]) : [];
  });
  const normalise = (file: string) => path.posix.normalize(file.replace(/\\/g, "/"));
  return templates
    .filter((entry) => typeof entry?.path === "string" && entry.path.endsWith(".bicep"))
    .map((entry) => ({
      template: normalise(entry.path as string),
      parameters: typeof entry.parameters === "string" ? normalise(entry.parameters) : undefined,
    }));
}

/**
 * The `${{VAR}}`s teamsapp.yml reads after its first arm/deploy (later provision steps, deploy, publish, and the
 * manifest those steps package) that nothing but a template output can supply.
 */
function variablesExpectedFromOutputs(root: string, data: Record<string, unknown>): string[] {
  const firstArmDeploy = armDeploySteps(data)[0]?.index;
  if (firstArmDeploy === undefined) return [];
  const later = [
    ...stepsOf(data, "provision").slice(firstArmDeploy + 1),
    ...LIFECYCLES.filter((lifecycle) => lifecycle !== "provision").flatMap((lifecycle) => stepsOf(data, lifecycle)),
  ];
  const read = new Set<string>();
  for (const step of later) {
    placeholderNames(JSON.stringify(step)).forEach((name) => read.add(name));
    const manifestPath = (step.with as { manifestPath?: unknown } | undefined)?.manifestPath;
    if (typeof manifestPath === "string" && fs.existsSync(path.join(root, manifestPath))) {
      placeholderNames(fs.readFileSync(path.join(root, manifestPath), "utf8")).forEach((name) => read.add(name));
    }
  }
  const written = variablesWrittenByActions(data);
  const envFiles = environmentsServedBy(root, TEAMSAPP_YML).map((env) => readEnvironmentFile(root, env) ?? {});
  const setInEveryEnv = (name: string) => envFiles.length > 0 && envFiles.every((values) => !!values[name]);
  return [...read].filter(
    (name) => !TOOLKIT_VARIABLES.has(name) && !name.startsWith("SECRET_") && !written.has(name) && !setInEveryEnv(name),
  );
}

/**
 * Bicep under infra/: syntax (tree-sitter-bicep), parameters vs infra/azure.parameters.json, modules' parameters,
 * the outputs teamsapp.yml relies on, files loaded with loadTextContent, and the Web App's app settings against
 * ENVIRONMENT in src/config.ts (every variable Herald reads reaches Azure, from the env files where it should).
 */
export function checkBicep(root: string, environment: Readonly<Record<string, AzureSetting>> = ENVIRONMENT): Problem[] {
  const problems: Problem[] = [];
  const parsed = new Map<string, BicepFile>();
  for (const file of bicepFilesUnder(path.join(root, "infra"))) {
    const relative = relativeToRoot(root, file);
    const bicep = parseBicep(fs.readFileSync(file, "utf8"));
    parsed.set(relative, bicep);
    for (const error of bicep.syntaxErrors.slice(0, 5)) {
      problems.push({ file: relative, message: `line ${error.line}, column ${error.column}: syntax error: ${error.message}` });
    }
  }

  const yml = fs.existsSync(path.join(root, TEAMSAPP_YML)) ? readTeamsappYaml(root, TEAMSAPP_YML).data : undefined;
  const templates = yml ? deployedTemplates(yml) : [DEFAULT_TEMPLATE];
  if (yml && !templates.length) {
    problems.push({ file: TEAMSAPP_YML, message: "provision has no arm/deploy step deploying a .bicep template" });
  }

  for (const { template, parameters } of templates) {
    const bicep = parsed.get(template);
    if (!bicep) {
      problems.push({ file: yml ? TEAMSAPP_YML : template, message: `arm/deploy template ${template} not found under infra/` });
      continue;
    }
    if (parameters) problems.push(...checkParameterFile(root, template, bicep, parameters));
    if (parameters && yml) problems.push(...checkParameterPlaceholders(root, parameters, yml));
    if (yml) {
      const outputs = new Set(bicep.outputs.map((name) => name.toUpperCase())); // the toolkit upper-cases output names
      for (const name of variablesExpectedFromOutputs(root, yml)) {
        if (outputs.has(name)) continue;
        problems.push({
          file: template,
          message: `${TEAMSAPP_YML} reads \${{${name}}} after arm/deploy, but ${template} has no output '${name}' (and no env file of ${TEAMSAPP_YML} sets it)`,
        });
      }
    }
  }

  for (const [file, bicep] of parsed) problems.push(...checkModules(file, bicep, parsed));

  const webApps = [...parsed].flatMap(([file, bicep]) =>
    bicep.resources.filter((resource) => resource.type.startsWith("Microsoft.Web/sites@")).map((resource) => ({ file, resource })),
  );
  if (!webApps.length) {
    problems.push({ file: templates[0]?.template ?? DEFAULT_TEMPLATE.template, message: "declares no Web App (Microsoft.Web/sites) to run Herald" });
  }
  for (const [file, bicep] of parsed) {
    for (const loaded of loadedFiles(bicep.root)) {
      if (!fs.existsSync(path.join(root, path.dirname(file), loaded.path))) {
        problems.push({ file, message: `line ${loaded.line}: loads ${loaded.path}, which does not exist` });
      }
    }
  }
  for (const { file, resource } of webApps) {
    const parametersFile = templates.find((entry) => entry.template === file)?.parameters;
    problems.push(...checkAppSettings(root, file, parsed.get(file)!, resource, parametersFile, environment));
  }
  return problems;
}

/**
 * The Web App sets every variable of ENVIRONMENT that belongs in Azure and nothing Herald does not read; a
 * "parameter" variable comes from a Bicep parameter that the parameters file fills from an env file (`${{VAR}}`).
 */
function checkAppSettings(
  root: string,
  file: string,
  bicep: BicepFile,
  resource: BicepFile["resources"][number],
  parametersFile: string | undefined,
  environment: Readonly<Record<string, AzureSetting>>,
): Problem[] {
  const problems: Problem[] = [];
  const where = `the Web App '${resource.symbol}' (line ${resource.line})`;
  const settings = new Map((resource.body ? appSettings(resource.body) : []).map((setting) => [setting.name, setting]));
  const given = parametersFile ? parameterValues(root, parametersFile) : {};
  const declared = new Set(bicep.params.map((param) => param.name));
  for (const [name, spec] of Object.entries(environment)) {
    const setting = settings.get(name);
    if (spec.azure === "not-in-azure") {
      if (setting) problems.push({ file, message: `${where} sets app setting '${name}' (line ${setting.line}), which ENVIRONMENT in src/config.ts keeps out of Azure: ${spec.reason}` });
      continue;
    }
    if (!setting) {
      problems.push({
        file,
        message: `${where} does not set app setting '${name}', which Herald reads (ENVIRONMENT in src/config.ts says "${spec.azure}")` +
          (spec.azure === "parameter" ? `: add a parameter, pass it as '${name}', and fill it in ${parametersFile ?? "the parameters file"} from \${{${name}}} of the env files` : ""),
      });
      continue;
    }
    if (spec.azure !== "parameter") continue;
    const param = setting.value?.type === "identifier" ? setting.value.text : undefined;
    if (!param || !declared.has(param)) {
      problems.push({ file, message: `app setting '${name}' (line ${setting.line}) must be a parameter of ${file}, so that the env files can set it (ENVIRONMENT in src/config.ts says "parameter"); its value is '${setting.value?.text ?? ""}'` });
      continue;
    }
    if (!parametersFile || !/\$\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(JSON.stringify(given[param] ?? ""))) {
      problems.push({
        file: parametersFile ?? file,
        message: `parameter '${param}' (app setting '${name}') is not filled from an env file: give it as {"value": "\${{${name}}}"} and define ${name} in env/.env.<env>`,
      });
    }
  }
  for (const [name, setting] of settings) {
    if (name in environment || PLATFORM_SETTING.test(name)) continue;
    problems.push({ file, message: `${where} sets app setting '${name}' (line ${setting.line}), which Herald does not read (it is not in ENVIRONMENT in src/config.ts)` });
  }
  return problems;
}

function parameterValues(root: string, parametersFile: string): Record<string, unknown> {
  try {
    const json = JSON.parse(fs.readFileSync(path.join(root, parametersFile), "utf8")) as { parameters?: Record<string, { value?: unknown }> };
    return Object.fromEntries(Object.entries(json.parameters ?? {}).map(([name, entry]) => [name, entry?.value]));
  } catch {
    return {}; // checkParameterFile reports it
  }
}

function checkParameterFile(root: string, template: string, bicep: BicepFile, parametersFile: string): Problem[] {
  const problems: Problem[] = [];
  let given: string[];
  try {
    const json = JSON.parse(fs.readFileSync(path.join(root, parametersFile), "utf8")) as { parameters?: Record<string, unknown> };
    given = Object.keys(json.parameters ?? {});
  } catch (error) {
    const reason = fs.existsSync(path.join(root, parametersFile)) ? `is not valid JSON: ${(error as Error).message}` : "file not found";
    return [{ file: parametersFile, message: reason }];
  }
  const declared = new Map(bicep.params.map((param) => [param.name, param]));
  for (const name of given) {
    if (!declared.has(name)) problems.push({ file: parametersFile, message: `parameter '${name}' is not declared in ${template}` });
  }
  for (const param of bicep.params) {
    if (!param.hasDefault && !given.includes(param.name)) {
      problems.push({
        file: template,
        message: `parameter '${param.name}' (line ${param.line}) has no default value and ${parametersFile} does not give it`,
      });
    }
  }
  return problems;
}

/** Every `${{VAR}}` of the parameters file is something provision can fill: an env file entry, a secret, an action's output. */
function checkParameterPlaceholders(root: string, parametersFile: string, yml: Record<string, unknown>): Problem[] {
  const file = path.join(root, parametersFile);
  if (!fs.existsSync(file)) return [];
  // Only what provision writes before arm/deploy exists when the parameters are filled in.
  const firstArmDeploy = armDeploySteps(yml)[0]?.index ?? 0;
  const written = variablesWrittenByActions({ provision: stepsOf(yml, "provision").slice(0, firstArmDeploy) });
  const envs = environmentsServedBy(root, TEAMSAPP_YML);
  const problems: Problem[] = [];
  for (const name of placeholderNames(fs.readFileSync(file, "utf8"))) {
    if (TOOLKIT_VARIABLES.has(name) || name.startsWith("SECRET_") || written.has(name)) continue;
    for (const env of envs) {
      if (!(name in (readEnvironmentFile(root, env) ?? {}))) {
        problems.push({ file: parametersFile, message: `\${{${name}}} is not defined in env/.env.${env} (nor written by a ${TEAMSAPP_YML} provision step before arm/deploy)` });
      }
    }
  }
  return problems;
}

/** Each module's file exists, and its `params:` give every parameter without a default and nothing undeclared. */
function checkModules(file: string, bicep: BicepFile, parsed: Map<string, BicepFile>): Problem[] {
  const problems: Problem[] = [];
  for (const module of bicep.modules) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), module.path));
    const moduleFile = parsed.get(target);
    if (!moduleFile) {
      problems.push({ file, message: `module '${module.symbol}' (line ${module.line}) refers to ${module.path}, which does not exist` });
      continue;
    }
    const given = (module.body && objectKeys(module.body, "params")) ?? [];
    const declared = new Set(moduleFile.params.map((param) => param.name));
    for (const name of given) {
      if (!declared.has(name)) {
        problems.push({ file, message: `module '${module.symbol}' (line ${module.line}) passes '${name}', which ${target} does not declare` });
      }
    }
    for (const param of moduleFile.params) {
      if (!param.hasDefault && !given.includes(param.name)) {
        problems.push({ file, message: `module '${module.symbol}' (line ${module.line}) does not pass '${param.name}', which ${target} requires` });
      }
    }
  }
  return problems;
}
