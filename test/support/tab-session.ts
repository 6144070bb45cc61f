/**
 * Opens the Herald tab in Chromium the way Teams does: the test host page (teams-host.ts) frames /tab/ and
 * answers teams-js, handing out tokens signed by the test Entra. Also: axe-core, CSP-violation capture, polling.
 */
import { readFileSync } from "node:fs";
import type { Browser, BrowserContext, Frame, FrameLocator, Page } from "playwright-core";
import type { SeededUser } from "../../src/emulator/types";
import type { TeamsHost } from "./teams-host";
import type { TestEntra } from "./test-entra";

export interface TabSession {
  context: BrowserContext;
  page: Page;
  /** Locators inside the tab's iframe. */
  tab: FrameLocator;
  /** The tab's frame itself (evaluate, fetch as the tab). */
  frame(): Promise<Frame>;
  token: string;
  /** CSP violations the tab's document reported so far. */
  cspViolations(): Promise<string[]>;
  close(): Promise<void>;
}

export interface OpenOptions {
  roles?: string[];
  theme?: "default" | "dark" | "contrast";
  /** A token to hand out instead of a valid one (forged, expired …). */
  token?: string;
  viewport?: { width: number; height: number };
}

export async function openTab(browser: Browser, host: TeamsHost, entra: TestEntra, herald: string, who: SeededUser, options: OpenOptions = {}): Promise<TabSession> {
  const token = options.token ?? await entra.sign({
    oid: who.aadObjectId, tid: who.tenantId, name: who.name, upn: who.userPrincipalName, scp: "access_as_user",
    ...(options.roles ? { roles: options.roles } : {}),
  });
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  // Runs in every frame: the tab's document records any CSP violation.
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  await page.exposeFunction("heraldToken", () => token);
  await page.goto(host.url(`${herald}/tab/`, { userObjectId: who.aadObjectId, tenantId: who.tenantId, userPrincipalName: who.userPrincipalName, theme: options.theme ?? "default" }));
  const frame = async () => {
    for (let i = 0; i < 200; i++) {
      const found = page.frames().find((f) => f.url().startsWith(`${herald}/tab/`));
      if (found) return found;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("the tab's frame did not load");
  };
  return {
    context, page, token, frame,
    tab: page.frameLocator("#tab"),
    cspViolations: async () => (await frame()).evaluate(() => (window as unknown as { __csp: string[] }).__csp),
    close: () => context.close(),
  };
}

let axeSource: string | undefined;

/** axe-core's violations of impact serious or critical in the tab's document. */
export async function seriousAxeViolations(frame: Frame): Promise<Array<{ id: string; impact: string; help: string; targets: string[] }>> {
  axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol: the tab's CSP (no inline script) stays on.
  await frame.evaluate(`${axeSource}\n;undefined`);
  const violations = await frame.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .map((v) => ({
        ...v,
        // Fluent UI's keyboard manager (tabster) puts focus sentinels — <i data-tabster-dummy aria-hidden tabindex=0>
        // that hand focus on at once — around arrow-key groups such as TabList. aria-hidden-focus flags them; Fluent
        // marks this "by design" (microsoft/fluentui#27517) and Accessibility Insights suppresses exactly these
        // (microsoft/accessibility-insights-web#7605). Only those nodes are dropped, for that rule only.
        nodes: v.id === "aria-hidden-focus" ? v.nodes.filter((n) => !/^<i [^>]*data-tabster-dummy/.test((n as unknown as { html: string }).html)) : v.nodes,
      }))
      .filter((v) => v.nodes.length > 0)
      .map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")} ${(n as unknown as { html: string }).html.slice(0, 160)} — ${(n as unknown as { failureSummary?: string }).failureSummary ?? ""}`),
      }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** A JSON request from inside the tab's frame, as the tab makes them. */
export async function fetchAsTab(frame: Frame, path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  return frame.evaluate(async ({ path, init }) => {
    const res = await fetch(path, {
      method: init.method ?? "GET",
      headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }, { path, init });
}
