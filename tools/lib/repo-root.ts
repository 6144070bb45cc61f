import * as fs from "node:fs";
import * as path from "node:path";

/**
 * The nearest folder at or above `start` that holds a package.json. Tools run both from `tools/` (tsx) and from
 * `dist/tools/` (compiled), so they locate repo files this way rather than relative to `__dirname`.
 */
export function findRepoRoot(start: string): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found at or above ${start}`);
    dir = parent;
  }
}

/** The repo these tools belong to (where their schemas and node_modules live), whatever repo they check. */
export const TOOLS_REPO_ROOT = findRepoRoot(__dirname);

/** `path` relative to `root`, with forward slashes, for messages. */
export function relativeToRoot(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join("/");
}
