/**
 * Where the tab runs and how it signs in. Inside Teams (framed by a host): teams-js — initialize, the context's
 * theme and its theme-change handler, and SSO tokens from authentication.getAuthToken. In local mode (the page
 * says so in a meta tag; Herald has no BOT_ID) a loopback page may frame it too, and outside any frame
 * `?as=<id>` names the person. Otherwise the tab asks to be opened in Teams.
 */
import { app, authentication } from "@microsoft/teams-js";

export type ThemeName = "default" | "dark" | "contrast";

export interface Host {
  kind: "teams" | "local" | "none";
  localMode: boolean;
  theme: ThemeName;
  onThemeChange(listener: (theme: ThemeName) => void): void;
  /** Headers that identify the person to Herald; `fresh` forces a new token. */
  authHeaders(fresh?: boolean): Promise<Record<string, string>>;
  /** Why sign-in is impossible here (kind "none"). */
  problem?: string;
}

const INITIALIZE_TIMEOUT_MS = 8000;
/** Tokens are reused until shortly before they expire. */
const TOKEN_MARGIN_MS = 5 * 60_000;

export async function connectToHost(): Promise<Host> {
  const localMode = document.querySelector('meta[name="herald-mode"]')?.getAttribute("content") === "local";
  const params = new URLSearchParams(location.search);
  const listeners: Array<(theme: ThemeName) => void> = [];
  const onThemeChange = (listener: (theme: ThemeName) => void) => listeners.push(listener);

  if (window.parent !== window) {
    try {
      // Teams' own origins are built into teams-js; a loopback host page is trusted only in local mode.
      const extraOrigins = localMode ? loopbackParentOrigin() : undefined;
      await withTimeout(app.initialize(extraOrigins ? [extraOrigins] : undefined), INITIALIZE_TIMEOUT_MS);
      const context = await app.getContext();
      const host: Host = {
        kind: "teams",
        localMode,
        theme: themeName(context.app.theme),
        onThemeChange,
        authHeaders: ssoHeaders(),
      };
      app.registerOnThemeChangeHandler((theme) => {
        host.theme = themeName(theme);
        for (const listener of listeners) listener(host.theme);
      });
      app.notifySuccess();
      return host;
    } catch (error) {
      if (!localMode) return none(localMode, `Herald could not connect to Teams (${(error as Error).message}).`, onThemeChange);
    }
  }

  const as = params.get("as");
  if (localMode && as) {
    return {
      kind: "local",
      localMode,
      theme: themeName(params.get("theme") ?? preferredTheme()),
      onThemeChange,
      authHeaders: async () => ({ "x-herald-as": as }),
    };
  }
  return none(localMode, localMode
    ? "Local mode: choose who you are."
    : "Open Herald from Microsoft Teams to see your notifications.", onThemeChange);
}

function none(localMode: boolean, problem: string, onThemeChange: Host["onThemeChange"]): Host {
  return { kind: "none", localMode, theme: themeName(preferredTheme()), onThemeChange, authHeaders: async () => ({}), problem };
}

function ssoHeaders(): Host["authHeaders"] {
  let cached: { token: string; expiresAt: number } | undefined;
  return async (fresh = false) => {
    if (fresh || !cached || cached.expiresAt - TOKEN_MARGIN_MS < Date.now()) {
      const token = await authentication.getAuthToken();
      cached = { token, expiresAt: expiryOf(token) };
    }
    return { authorization: `Bearer ${cached.token}` };
  };
}

/** The token's exp (ms), or "now" when it cannot be read, so the next call asks again. */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
    return typeof payload.exp === "number" ? payload.exp * 1000 : Date.now();
  } catch {
    return Date.now();
  }
}

/** The framing page's origin when it is a loopback one (local mode's test host and development pages). */
function loopbackParentOrigin(): string | undefined {
  const origin = location.ancestorOrigins?.[0] ?? (document.referrer ? new URL(document.referrer).origin : undefined);
  return origin && /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin) ? origin : undefined;
}

function themeName(theme: string | undefined): ThemeName {
  return theme === "dark" || theme === "contrast" ? theme : "default";
}

function preferredTheme(): string {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "default";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the host within ${ms / 1000} s`)), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error: unknown) => { clearTimeout(timer); reject(error); });
  });
}
