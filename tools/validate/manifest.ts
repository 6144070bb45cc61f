import * as fs from "node:fs";
import * as path from "node:path";
import { describeSchemaError, meaningfulErrors, teamsManifestValidator, availableManifestVersions } from "../lib/json-schema";
import { listEnvironments, readEnvironmentFile } from "../lib/env-file";
import { fakeValueFor, placeholderNamesInJson, substituteInJson } from "../lib/placeholders";
import type { Problem } from "./problem";

export const MANIFEST_FILE = "appPackage/manifest.json";

/**
 * The value a placeholder takes when checking the manifest for one environment: the committed value, or a plausible
 * fake for ids/domains/endpoints that provisioning has not filled in yet. Undefined means "cannot be resolved".
 */
function resolverFor(values: Record<string, string> | undefined, env: string) {
  return (name: string): string | undefined => {
    if (name === "TEAMSFX_ENV") return env;
    const value = values?.[name];
    if (value) return value;
    return fakeValueFor(name) ?? value;
  };
}

/**
 * appPackage/manifest.json against Microsoft's schema for its `manifestVersion` (from npm @microsoft/app-manifest),
 * once per environment in env/ with that environment's values substituted for `${{VAR}}` placeholders.
 */
export function checkManifest(root: string): Problem[] {
  const file = path.join(root, MANIFEST_FILE);
  const problem = (message: string): Problem => ({ file: MANIFEST_FILE, message });
  if (!fs.existsSync(file)) return [problem("file not found")];

  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (error) {
    return [problem(`is not valid JSON: ${(error as Error).message}`)];
  }
  const version = manifest.manifestVersion;
  if (typeof version !== "string") return [problem("has no string 'manifestVersion'")];
  const validate = teamsManifestValidator(version);
  if (!validate) {
    return [problem(`manifestVersion '${version}' has no schema in @microsoft/app-manifest (it has ${availableManifestVersions().join(", ")})`)];
  }

  const environments = listEnvironments(root);
  const problems: Problem[] = [];
  // The same schema error usually shows up in every environment: report it once, naming the environments.
  const schemaErrors = new Map<string, string[]>();
  for (const env of environments.length ? environments : ["(no env files)"]) {
    const values = readEnvironmentFile(root, env);
    const resolve = resolverFor(values, env);
    const undefinedNames = placeholderNamesInJson(manifest).filter((name) => resolve(name) === undefined);
    for (const name of undefinedNames) {
      problems.push(problem(`placeholder \${{${name}}} is not defined in env/.env.${env}`));
    }
    const rendered = substituteInJson(manifest, (name) => resolve(name) ?? "");
    if (validate(rendered)) continue;
    for (const error of meaningfulErrors(validate.errors ?? [])) {
      const message = describeSchemaError(error);
      schemaErrors.set(message, [...(schemaErrors.get(message) ?? []), env]);
    }
  }
  for (const [message, envs] of schemaErrors) {
    problems.push(problem(`does not match the Teams manifest schema v${version}: ${message} (env ${envs.join(", ")})`));
  }
  return problems;
}
