/**
 * `npm run herald -- install --users a@contoso.com,b@contoso.com [--file users.txt]`: installs Herald for
 * each person through Microsoft Graph and prints one line per user and a summary. Exit 0 when every user
 * ended up with Herald installed, 1 when any failed, 2 for a usage error.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { Logger } from "../logger";
import type { GraphAppInstaller } from "../graph/app-installer";

export { createGraphAppInstaller } from "../graph/create-installer";

export const INSTALL_USAGE = [
  "usage: herald install --users <id-or-upn>[,<id-or-upn>...] [--file <path>]",
  "  --users  AAD object ids or UPNs, comma-separated (may be repeated)",
  "  --file   a text file with one user per line (blank lines and lines starting with # are ignored)",
].join("\n");

export interface InstallCommandDeps {
  installer: Pick<GraphAppInstaller, "ensureInstalledForUsers">;
  logger: Logger;
  out: (line: string) => void;
}

export async function runInstallCommand(args: string[], deps: InstallCommandDeps): Promise<number> {
  const { out } = deps;
  let parsed: { help: true } | { help: false; users: string[] };
  try {
    parsed = await parseInstallArgs(args[0] === "install" ? args.slice(1) : args);
  } catch (error) {
    out(`error: ${error instanceof Error ? error.message : String(error)}`);
    out(INSTALL_USAGE);
    return 2;
  }
  if (parsed.help) {
    out(INSTALL_USAGE);
    return 0;
  }
  const { users } = parsed;
  if (users.length === 0) {
    out("error: no users given");
    out(INSTALL_USAGE);
    return 2;
  }

  deps.logger.info({ users: users.length }, "installing Herald for users through Microsoft Graph");
  const outcomes = await deps.installer.ensureInstalledForUsers(users);
  const width = Math.max(...outcomes.map((outcome) => outcome.user.length));
  let installed = 0, already = 0, failed = 0;
  for (const outcome of outcomes) {
    const who = outcome.user.padEnd(width);
    if (!outcome.ok) {
      failed++;
      out(`${who}  error              ${outcome.error.code}: ${outcome.error.message}`);
    } else if (outcome.status === "installed") {
      installed++;
      out(`${who}  installed          chat ${outcome.chatId}`);
    } else {
      already++;
      out(`${who}  already installed  chat ${outcome.chatId}`);
    }
  }
  out(`${outcomes.length} user(s): ${installed} installed, ${already} already installed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

async function parseInstallArgs(args: string[]): Promise<{ help: true } | { help: false; users: string[] }> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      users: { type: "string", multiple: true },
      file: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return { help: true };
  if (positionals.length) throw new Error(`unexpected argument(s): ${positionals.join(" ")}`);
  const users = (values.users ?? []).flatMap(splitList);
  for (const path of values.file ?? []) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new Error(`cannot read --file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed && !trimmed.startsWith("#")) users.push(...splitList(trimmed));
    }
  }
  // Same person twice (any case) is installed once.
  const seen = new Set<string>();
  return { help: false, users: users.filter((user) => !seen.has(user.toLowerCase()) && seen.add(user.toLowerCase())) };
}

function splitList(value: string): string[] {
  return value.split(",").map((part) => part.trim()).filter(Boolean);
}
