/**
 * `npm run package -- --env <env> [--allow-placeholders] [--root <dir>]` (default env: dev): builds the Teams app
 * package offline, as `teamsApp/zipAppPackage` would: appPackage/build/appPackage.<env>.zip and manifest.<env>.json.
 * Fails naming every `${{VAR}}` the environment does not resolve, unless --allow-placeholders fills fake values.
 */
import * as path from "node:path";
import { AppPackageError, buildAppPackage, describeBuilt } from "./app-package";
import { findRepoRoot } from "./lib/repo-root";

function flagValue(argv: string[], flag: string): string | undefined {
  const index = argv.indexOf(flag);
  if (index < 0) return undefined;
  const value = argv[index + 1];
  if (!value || value.startsWith("--")) throw new AppPackageError(`${flag} needs a value`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  try {
    const rootArg = flagValue(argv, "--root");
    const root = rootArg ? path.resolve(rootArg) : findRepoRoot(process.cwd());
    const env = flagValue(argv, "--env") ?? "dev";
    const built = await buildAppPackage({ root, env, processEnv: process.env, allowPlaceholders: argv.includes("--allow-placeholders") });
    if (built.faked.length) {
      console.warn(`warning: fake values for ${built.faked.join(", ")}; this package is for inspection only, Teams will reject it`);
    }
    console.log(`built ${describeBuilt(root, built)}`);
    return 0;
  } catch (error) {
    if (error instanceof AppPackageError) {
      console.error(`package-app: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
