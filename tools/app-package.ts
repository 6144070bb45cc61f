import * as fs from "node:fs";
import * as path from "node:path";
import JSZip from "jszip";
import { envFilePath, listEnvironments, loadEnvironment } from "./lib/env-file";
import { describeSchemaError, meaningfulErrors, teamsManifestValidator } from "./lib/json-schema";
import { fakeValueFor, placeholderNamesInJson, substituteInJson } from "./lib/placeholders";
import { relativeToRoot } from "./lib/repo-root";

export interface BuildAppPackageOptions {
  /** Repo root holding appPackage/ and env/. */
  root: string;
  /** Environment name: values come from env/.env.<env> and env/.env.<env>.user. */
  env: string;
  /** Values that win over the env files (the CLI passes process.env, as Teams Toolkit does). */
  processEnv?: Record<string, string | undefined>;
  /**
   * Fill unresolved ids/domains/endpoints with fake values instead of failing, e.g. to inspect the package of an
   * environment that has not been provisioned. Such a package passes the schema but cannot be uploaded to Teams.
   */
  allowPlaceholders?: boolean;
}

export interface BuiltAppPackage {
  manifestPath: string;
  zipPath: string;
  /** Placeholders that were filled with fake values (only with allowPlaceholders). */
  faked: string[];
}

export class AppPackageError extends Error {
  override readonly name = "AppPackageError";
}

/** Zip entries get a fixed date so the same inputs give the same bytes. */
const ZIP_DATE = new Date("1980-01-01T00:00:00Z");

/**
 * What `teamsApp/zipAppPackage` does, offline: resolves `${{VAR}}` placeholders in appPackage/manifest.json for one
 * environment, checks the result against the manifest schema, and writes appPackage/build/manifest.<env>.json and
 * appPackage/build/appPackage.<env>.zip (manifest.json and the two icons at the zip's root).
 */
export async function buildAppPackage(options: BuildAppPackageOptions): Promise<BuiltAppPackage> {
  const { root, env } = options;
  if (!/^[A-Za-z0-9_-]+$/.test(env)) throw new AppPackageError(`invalid environment name '${env}'`);
  if (!fs.existsSync(envFilePath(root, env))) {
    const known = listEnvironments(root);
    throw new AppPackageError(`env/.env.${env} not found (environments: ${known.join(", ") || "none"})`);
  }
  const appPackageDir = path.join(root, "appPackage");
  const manifestFile = path.join(appPackageDir, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as Record<string, unknown>;

  const values = loadEnvironment(root, env, options.processEnv ?? {});
  const unresolved: string[] = [];
  const faked: string[] = [];
  for (const name of placeholderNamesInJson(manifest)) {
    const value = values[name];
    const fake = fakeValueFor(name);
    // An empty id/domain/endpoint is "not provisioned yet"; an empty APP_NAME_SUFFIX is a real (empty) suffix.
    if (value === undefined || (value === "" && fake !== undefined)) {
      if (options.allowPlaceholders && fake !== undefined) {
        values[name] = fake;
        faked.push(name);
      } else {
        unresolved.push(`\${{${name}}} (${value === undefined ? "not defined" : `empty in env/.env.${env}`})`);
      }
    }
  }
  if (unresolved.length) {
    throw new AppPackageError(
      `appPackage/manifest.json has unresolved placeholders for env '${env}': ${unresolved.join(", ")}. ` +
        `Provision the environment first (teamsapp provision --env ${env}), set them in env/.env.${env}, ` +
        `env/.env.${env}.user or the process environment, or pass --allow-placeholders to fill in fake values ` +
        `(the package then cannot be uploaded to Teams).`,
    );
  }
  const rendered = substituteInJson(manifest, (name) => values[name]);

  const version = String(rendered.manifestVersion);
  const validate = teamsManifestValidator(version);
  if (!validate) throw new AppPackageError(`appPackage/manifest.json: no schema for manifestVersion '${version}'`);
  if (!validate(rendered)) {
    const errors = meaningfulErrors(validate.errors ?? []).map(describeSchemaError);
    throw new AppPackageError(`the manifest for env '${env}' does not match the Teams manifest schema v${version}: ${errors.join("; ")}`);
  }

  const icons = (rendered.icons ?? {}) as { color?: string; outline?: string };
  const zip = new JSZip();
  const manifestText = `${JSON.stringify(rendered, null, 2)}\n`;
  zip.file("manifest.json", manifestText, { date: ZIP_DATE });
  for (const icon of [icons.color, icons.outline]) {
    if (!icon) throw new AppPackageError("appPackage/manifest.json: icons.color and icons.outline are required");
    const iconFile = path.join(appPackageDir, icon);
    if (!fs.existsSync(iconFile)) throw new AppPackageError(`appPackage/${icon} not found (named in the manifest's icons)`);
    zip.file(icon.replace(/\\/g, "/"), fs.readFileSync(iconFile), { date: ZIP_DATE });
  }

  const buildDir = path.join(appPackageDir, "build");
  fs.mkdirSync(buildDir, { recursive: true });
  const manifestPath = path.join(buildDir, `manifest.${env}.json`);
  const zipPath = path.join(buildDir, `appPackage.${env}.zip`);
  fs.writeFileSync(manifestPath, manifestText);
  fs.writeFileSync(zipPath, await zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" }));
  return { manifestPath, zipPath, faked };
}

/** For messages: the built files relative to the root. */
export function describeBuilt(root: string, built: BuiltAppPackage): string {
  return `${relativeToRoot(root, built.zipPath)} and ${relativeToRoot(root, built.manifestPath)}`;
}
