import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import AjvDraft04 from "ajv-draft-04";
import addFormats from "ajv-formats";

/** An Ajv instance for a JSON schema of either draft-04 (Teams manifest) or draft-07 (Teams Toolkit YAML). */
export function ajvFor(schema: Record<string, unknown>): Ajv | AjvDraft04 {
  const draft04 = typeof schema.$schema === "string" && schema.$schema.includes("draft-04");
  // Microsoft's schemas use keywords Ajv's strict mode rejects (e.g. "deprecationMessage"); they are not ours to fix.
  const options = { strict: false, allErrors: true };
  const ajv = draft04 ? new AjvDraft04(options) : new Ajv(options);
  addFormats(ajv);
  return ajv;
}

export function compileSchema(schema: Record<string, unknown>): ValidateFunction {
  return ajvFor(schema).compile(schema);
}

export function readJsonFile(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** One readable line for an Ajv error: where, and what is wrong in the schema's own terms. */
export function describeSchemaError(error: ErrorObject): string {
  const where = error.instancePath || "(root)";
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties":
      return `${where}: unknown property '${String(params.additionalProperty)}'`;
    case "required":
      return `${where}: missing required property '${String(params.missingProperty)}'`;
    case "enum":
      return `${where}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "const":
      return `${where}: must be ${JSON.stringify(params.allowedValue)}`;
    default:
      return `${where}: ${error.message ?? error.keyword}`;
  }
}

/**
 * Drops errors that only restate a deeper one (an `anyOf`/`oneOf` that failed because its branches did) and
 * duplicates, so a single mistake yields a single message.
 */
export function meaningfulErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    if (error.keyword === "anyOf" || error.keyword === "oneOf" || error.keyword === "if") return false;
    const key = describeSchemaError(error);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Where Microsoft's Teams manifest schemas live inside npm `@microsoft/app-manifest`. */
export function teamsManifestSchemaDir(): string {
  const pkg = require.resolve("@microsoft/app-manifest/package.json");
  return path.join(path.dirname(pkg), "build", "json-schemas", "teams");
}

/** Manifest versions whose schema ships in `@microsoft/app-manifest`, e.g. ["1.0", …, "1.30", "devPreview"]. */
export function availableManifestVersions(): string[] {
  return fs
    .readdirSync(teamsManifestSchemaDir())
    .filter((name) => /^v/.test(name))
    .map((name) => name.slice(1))
    .map((name) => (name === "DevPreview" ? "devPreview" : name));
}

const manifestValidators = new Map<string, ValidateFunction>();

/** The validator for one `manifestVersion`, or undefined when the package has no schema for it. */
export function teamsManifestValidator(manifestVersion: string): ValidateFunction | undefined {
  const folder = manifestVersion === "devPreview" ? "vDevPreview" : `v${manifestVersion}`;
  const file = path.join(teamsManifestSchemaDir(), folder, "MicrosoftTeams.schema.json");
  if (!/^[A-Za-z0-9.]+$/.test(manifestVersion) || !fs.existsSync(file)) return undefined;
  let validate = manifestValidators.get(file);
  if (!validate) {
    validate = compileSchema(readJsonFile(file));
    manifestValidators.set(file, validate);
  }
  return validate;
}
