/**
 * Headless Chromium for tests that look at rendered pages: Debian's /usr/bin/chromium driven by playwright-core
 * (nothing is downloaded), with the flags that keep it off the network.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS });
}
