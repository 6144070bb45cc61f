import * as fs from "node:fs";
import * as path from "node:path";

/** Parses a Teams Toolkit `.env` file: KEY=VALUE lines, `#` comments, optional quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2];
    else value = value.replace(/\s+#.*$/, "").trim();
    values[match[1]] = value;
  }
  return values;
}

export function envFilePath(root: string, env: string): string {
  return path.join(root, "env", `.env.${env}`);
}

/** Names of the environments defined by `env/.env.<name>` files (not the `.user` secret files). */
export function listEnvironments(root: string): string[] {
  const dir = path.join(root, "env");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(".env.") && !name.endsWith(".user"))
    .map((name) => name.slice(".env.".length))
    .sort();
}

/** The committed values of one environment (`env/.env.<env>` only). Undefined if the file does not exist. */
export function readEnvironmentFile(root: string, env: string): Record<string, string> | undefined {
  const file = envFilePath(root, env);
  return fs.existsSync(file) ? parseEnvFile(fs.readFileSync(file, "utf8")) : undefined;
}

/** Fills keys that are missing or empty in `target` from `source`, as the toolkit merges its env sources. */
function fillEmpty(target: Record<string, string>, source: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(source)) {
    if (value !== undefined && !target[key]) target[key] = value;
  }
}

/**
 * What Teams Toolkit resolves `${{VAR}}` against: the process environment first, then `env/.env.<env>`, then the
 * git-ignored `env/.env.<env>.user` (a non-empty value wins over an empty one). TEAMSFX_ENV is always the env name.
 */
export function loadEnvironment(
  root: string,
  env: string,
  processEnv: Record<string, string | undefined> = {},
): Record<string, string> {
  const values: Record<string, string> = {};
  fillEmpty(values, processEnv);
  fillEmpty(values, readEnvironmentFile(root, env) ?? {});
  const userFile = `${envFilePath(root, env)}.user`;
  if (fs.existsSync(userFile)) fillEmpty(values, parseEnvFile(fs.readFileSync(userFile, "utf8")));
  values.TEAMSFX_ENV = env;
  return values;
}
