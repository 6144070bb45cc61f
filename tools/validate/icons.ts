import * as fs from "node:fs";
import * as path from "node:path";
import { PNG } from "pngjs";
import { MANIFEST_FILE } from "./manifest";
import type { Problem } from "./problem";

/** The icon files the manifest names, relative to appPackage/ (the defaults if the manifest cannot be read). */
function iconPaths(root: string): { color: string; outline: string } {
  const defaults = { color: "color.png", outline: "outline.png" };
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, MANIFEST_FILE), "utf8")) as { icons?: Partial<typeof defaults> };
    return { color: manifest.icons?.color ?? defaults.color, outline: manifest.icons?.outline ?? defaults.outline };
  } catch {
    return defaults;
  }
}

function readPng(root: string, relative: string, problems: Problem[]): PNG | undefined {
  const file = path.join(root, relative);
  if (!fs.existsSync(file)) {
    problems.push({ file: relative, message: "file not found (the manifest's icons refer to it)" });
    return undefined;
  }
  try {
    return PNG.sync.read(fs.readFileSync(file));
  } catch (error) {
    problems.push({ file: relative, message: `is not a readable PNG: ${(error as Error).message}` });
    return undefined;
  }
}

/** Teams' icon rules: colour icon 192×192; outline icon 32×32, white on transparent. */
export function checkIcons(root: string): Problem[] {
  const problems: Problem[] = [];
  const names = iconPaths(root);
  const colorFile = path.posix.join("appPackage", names.color);
  const outlineFile = path.posix.join("appPackage", names.outline);

  const color = readPng(root, colorFile, problems);
  if (color && (color.width !== 192 || color.height !== 192)) {
    problems.push({ file: colorFile, message: `must be 192×192 pixels, is ${color.width}×${color.height}` });
  }

  const outline = readPng(root, outlineFile, problems);
  if (!outline) return problems;
  if (outline.width !== 32 || outline.height !== 32) {
    problems.push({ file: outlineFile, message: `must be 32×32 pixels, is ${outline.width}×${outline.height}` });
  }
  let coloured = 0;
  let firstColoured = "";
  let transparent = 0;
  let visible = 0;
  for (let y = 0; y < outline.height; y++) {
    for (let x = 0; x < outline.width; x++) {
      const i = (y * outline.width + x) * 4;
      const [r, g, b, a] = [outline.data[i], outline.data[i + 1], outline.data[i + 2], outline.data[i + 3]];
      if (a < 255) transparent++;
      if (a === 0) continue;
      visible++;
      if (r !== 255 || g !== 255 || b !== 255) {
        if (!coloured) firstColoured = `(${x}, ${y}) is rgb(${r}, ${g}, ${b})`;
        coloured++;
      }
    }
  }
  if (coloured) {
    problems.push({
      file: outlineFile,
      message: `must contain only white or transparent pixels; ${coloured} pixel(s) are neither, e.g. ${firstColoured}`,
    });
  }
  if (!transparent) problems.push({ file: outlineFile, message: "has no transparent pixels (it must be white on a transparent background)" });
  if (!visible) problems.push({ file: outlineFile, message: "is fully transparent (nothing would be shown)" });
  return problems;
}
