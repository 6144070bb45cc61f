/**
 * Draws Herald's Teams icons (a bell) and writes appPackage/color.png (192×192, white bell on the accent colour)
 * and appPackage/outline.png (32×32, white bell on transparent). Run once after changing the design:
 *   npx tsx tools/generate-icons.ts
 * The PNGs are committed; this script only exists so they can be reproduced.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PNG } from "pngjs";
import { findRepoRoot } from "./lib/repo-root";

/** The manifest's accentColor (#4F52B2), the colour icon's background. */
export const ACCENT_RGB: readonly [number, number, number] = [0x4f, 0x52, 0xb2];

const circle = (u: number, v: number, cu: number, cv: number, r: number) => (u - cu) ** 2 + (v - cv) ** 2 <= r * r;

/** Whether point (u, v) of the unit square (v pointing down) lies inside the bell. */
export function insideBell(u: number, v: number): boolean {
  if (circle(u, v, 0.5, 0.1, 0.07)) return true; // the knob it hangs from
  if (v >= 0.14 && v < 0.42) {
    // the dome: upper half of an ellipse
    return ((u - 0.5) / 0.27) ** 2 + ((v - 0.42) / 0.28) ** 2 <= 1;
  }
  if (v >= 0.42 && v <= 0.72) {
    // the body, flaring towards the rim
    const halfWidth = 0.27 + 0.12 * ((v - 0.42) / 0.3) ** 2;
    return Math.abs(u - 0.5) <= halfWidth;
  }
  if (v > 0.72 && v <= 0.8) {
    // the rim: a bar with rounded ends
    const radius = 0.04;
    const cu = Math.min(Math.max(u, 0.06 + radius), 0.94 - radius);
    const cv = Math.min(Math.max(v, 0.72 + radius), 0.8 - radius);
    return circle(u, v, cu, cv, radius);
  }
  return circle(u, v, 0.5, 0.82, 0.1); // the clapper showing under the rim
}

/** Coverage in [0, 1] of the pixel (x, y) by the bell drawn in a `glyph`-pixel square at (`offset`, `offset`). */
function coverage(x: number, y: number, offset: number, glyph: number): number {
  const samples = 4; // 4×4 supersampling for smooth edges
  let inside = 0;
  for (let sy = 0; sy < samples; sy++) {
    for (let sx = 0; sx < samples; sx++) {
      const u = (x + (sx + 0.5) / samples - offset) / glyph;
      const v = (y + (sy + 0.5) / samples - offset) / glyph;
      if (u >= 0 && u <= 1 && v >= 0 && v <= 1 && insideBell(u, v)) inside++;
    }
  }
  return inside / (samples * samples);
}

function render(size: number, glyph: number, paint: (cover: number) => [number, number, number, number]): Buffer {
  const png = new PNG({ width: size, height: size });
  const offset = (size - glyph) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = paint(coverage(x, y, offset, glyph));
      const i = (y * size + x) * 4;
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = a;
    }
  }
  return PNG.sync.write(png);
}

/** 192×192: the bell in white over the accent colour, inside the central ~60% as Teams' icon guidance suggests. */
export function renderColorIcon(): Buffer {
  return render(192, 116, (cover) => {
    const blend = (channel: number) => Math.round(channel + (255 - channel) * cover);
    return [blend(ACCENT_RGB[0]), blend(ACCENT_RGB[1]), blend(ACCENT_RGB[2]), 255];
  });
}

/** 32×32: white only, the bell's coverage as alpha, everything else fully transparent. */
export function renderOutlineIcon(): Buffer {
  return render(32, 28, (cover) => [255, 255, 255, Math.round(255 * cover)]);
}

if (require.main === module) {
  const appPackage = path.join(findRepoRoot(process.cwd()), "appPackage");
  fs.writeFileSync(path.join(appPackage, "color.png"), renderColorIcon());
  fs.writeFileSync(path.join(appPackage, "outline.png"), renderOutlineIcon());
  console.log(`wrote ${path.join(appPackage, "color.png")} and outline.png`);
}
