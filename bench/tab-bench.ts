/**
 * The tab's weight and speed, measured in headless Chromium on loopback (`npx tsx bench/run.ts tab`, after
 * `npm run build`): the JavaScript it ships (raw and gzipped, as Herald serves it), and the time from navigation
 * to the first render of "My notifications" with its list — opened directly in local mode (?as=) and inside the
 * test Teams host page (teams-js initialize, getContext, SSO token, token validation).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, Page } from "playwright-core";
import { defaultTabDir } from "../src/tab/tab-static";
import { launchChromium } from "../test/support/browser";
import { startHerald } from "../test/support/herald-fixture";
import { TeamsHost } from "../test/support/teams-host";
import { TEST_CLIENT_ID, TEST_DOMAIN, TestEntra } from "../test/support/test-entra";

const RUNS = Number(process.env.BENCH_TAB_RUNS) || 15;

interface Timing {
  firstContentfulPaintMs: number;
  inboxRenderedMs: number;
}

export async function benchTab(): Promise<unknown> {
  const sizes = jsSizes();
  const entra = await TestEntra.start();
  const fx = await startHerald({
    env: { AAD_APP_CLIENT_ID: TEST_CLIENT_ID, BOT_DOMAIN: TEST_DOMAIN, HERALD_ENTRA_METADATA_URL: entra.metadataUrl },
    tenant: { tenantId: "tenant-bench", users: 20, teams: [{ name: "Operations", memberCount: 20 }] },
  });
  const host = await TeamsHost.start();
  let browser: Browser | undefined;
  try {
    const user = fx.tenant.users[0]!;
    for (const u of fx.tenant.users) await fx.driver.installPersonal(u);
    await fx.driver.installTeam(fx.tenant.teams[0]!, user);
    await fx.rostersSynced();
    // A realistic inbox: 50 notifications.
    for (let i = 0; i < 50; i++) await fx.api("POST", "/api/notifications", { title: `Notification ${i}`, text: "x", category: `topic-${i % 5}`, audience: { kind: "teamMembers", teamId: fx.tenant.teams[0]!.id } });
    while ((await fx.store.jobs.listUnfinishedJobs()).length) await new Promise((r) => setTimeout(r, 100));
    await fx.herald.inbox.idle();
    browser = await launchChromium();
    const token = await entra.sign({ oid: user.aadObjectId, tid: user.tenantId, name: user.name, scp: "access_as_user" });
    const local = await measure(browser, (page) => page.goto(`${fx.url}/tab/?as=${encodeURIComponent(user.aadObjectId)}`), fx.url, token);
    const framed = await measure(browser, (page) => page.goto(host.url(`${fx.url}/tab/`, { userObjectId: user.aadObjectId, tenantId: user.tenantId })), fx.url, token);
    return { javascript: sizes, runs: RUNS, localMode: summarize(local), teamsHostWithSso: summarize(framed) };
  } finally {
    await browser?.close();
    await host.stop();
    await fx.stop();
    await entra.stop();
  }
}

function jsSizes() {
  const dir = path.join(defaultTabDir(), "assets");
  const html = readFileSync(path.join(defaultTabDir(), "index.html"), "utf8");
  const files = readdirSync(dir).filter((f) => f.endsWith(".js"));
  const initial = new Set([...html.matchAll(/\/tab\/assets\/([^"]+\.js)/g)].map((m) => m[1]));
  const sized = files.map((file) => {
    const raw = readFileSync(path.join(dir, file));
    return { file, initial: initial.has(file), bytes: raw.length, gzipBytes: gzipSync(raw, { level: 9 }).length };
  });
  const sum = (list: typeof sized, key: "bytes" | "gzipBytes") => list.reduce((n, f) => n + f[key], 0);
  const first = sized.filter((f) => f.initial);
  return { files: sized, initialGzipKB: kb(sum(first, "gzipBytes")), totalGzipKB: kb(sum(sized, "gzipBytes")), totalKB: kb(sum(sized, "bytes")) };
}

/** Cold loads: a fresh browser context (empty cache) per run; times are from the tab document's navigation start. */
async function measure(browser: Browser, navigate: (page: Page) => Promise<unknown>, heraldUrl: string, token: string): Promise<Timing[]> {
  const timings: Timing[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(() => {
      const w = window as unknown as { __paint?: number; __inbox?: number };
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (entry.name === "first-contentful-paint") w.__paint = entry.startTime;
      }).observe({ type: "paint", buffered: true });
      new MutationObserver(() => {
        if (w.__inbox === undefined && document.querySelector('[data-testid="inbox"] li')) w.__inbox = performance.now();
      }).observe(document, { childList: true, subtree: true });
    });
    const page = await context.newPage();
    await page.exposeFunction("heraldToken", () => token);
    await navigate(page);
    const frame = await waitForTab(page, heraldUrl);
    await frame.waitForFunction(() => (window as unknown as { __inbox?: number }).__inbox !== undefined, undefined, { timeout: 30_000 });
    const t = await frame.evaluate(() => {
      const w = window as unknown as { __paint?: number; __inbox: number };
      return { firstContentfulPaintMs: w.__paint ?? NaN, inboxRenderedMs: w.__inbox };
    });
    if (i > 0) timings.push(t); // the first run warms Herald's asset cache (gzip once) and the JIT
    await context.close();
  }
  return timings;
}

async function waitForTab(page: Page, heraldUrl: string) {
  for (let i = 0; i < 400; i++) {
    const frame = page.frames().find((f) => f.url().startsWith(`${heraldUrl}/tab/`));
    if (frame) return frame;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the tab did not load");
}

function summarize(timings: Timing[]) {
  const stat = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: Math.round(sorted[Math.floor(sorted.length / 2)]!), p90: Math.round(sorted[Math.floor(sorted.length * 0.9)]!) };
  };
  return { firstContentfulPaintMs: stat(timings.map((t) => t.firstContentfulPaintMs)), myNotificationsRenderedMs: stat(timings.map((t) => t.inboxRenderedMs)) };
}

const kb = (bytes: number) => Math.round(bytes / 102.4) / 10;

if (require.main === module) {
  benchTab().then((result) => {
    console.log(JSON.stringify(result, null, 2));
    process.exit(0);
  }, (error) => {
    console.error(error);
    process.exit(1);
  });
}
