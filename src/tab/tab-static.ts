/**
 * Serves the built tab (Vite's output in dist/tab) at /tab/ with the headers a Teams tab needs: a CSP whose
 * frame-ancestors name the Teams and Microsoft 365 hosts only (plus loopback in local mode, for the browser
 * tests' host page and `npm run dev`), no inline script, and long-lived caching for the hashed assets.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Request, Response, Server } from "restify";
import { ApiError, sendError } from "../api/errors";

/** Where Microsoft documents that Teams, Outlook and the Microsoft 365 app frame tabs. */
export const TEAMS_FRAME_ANCESTORS = [
  "https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://*.cloud.microsoft",
  "https://*.microsoft365.com", "https://*.office.com",
  "https://outlook.office.com", "https://outlook.office365.com", "https://outlook-sdf.office.com", "https://outlook-sdf.office365.com",
];
const LOOPBACK_ANCESTORS = ["http://127.0.0.1:*", "http://localhost:*"];
/** teams-js refreshes its list of valid host origins from Microsoft's CDN (and falls back to a built-in one). */
const TEAMS_JS_CDN = "https://res.cdn.office.net";

/**
 * The hash of the empty string: Fluent UI (Griffel, FluentProvider) creates empty <style> elements and fills them
 * through CSSOM (insertRule), which CSP does not govern. Allowing exactly "empty" keeps any inline CSS text out.
 */
const EMPTY_STYLE_ELEMENT = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

export function contentSecurityPolicy(localMode: boolean): string {
  const ancestors = ["'self'", ...TEAMS_FRAME_ANCESTORS, ...(localMode ? LOOPBACK_ANCESTORS : [])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' ${EMPTY_STYLE_ELEMENT}`,
    "img-src 'self' data: https:",
    "font-src 'self' data:",
    `connect-src 'self' ${TEAMS_JS_CDN}`,
    `frame-ancestors ${ancestors.join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
  ].join("; ");
}

/** The repository's dist/tab, found from this module whether it runs from src/ (tsx) or dist/src/ (node). */
export function defaultTabDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "dist", "tab");
}

export function registerTabStatic(server: Server, options: { dir: string; localMode: boolean }): void {
  const csp = contentSecurityPolicy(options.localMode);
  let indexHtml: string | undefined;
  const index = (): string => {
    if (indexHtml === undefined) {
      const file = path.join(options.dir, "index.html");
      if (!existsSync(file)) throw new ApiError(503, "tab_not_built", "the tab is not built: run `npm run build`");
      // The page learns local mode from a meta tag: no inline script, and nothing secret.
      indexHtml = readFileSync(file, "utf8").replace("</head>", `<meta name="herald-mode" content="${options.localMode ? "local" : "teams"}"></head>`);
    }
    return indexHtml;
  };
  // Hashed assets never change: read and compress each once.
  const assets = new Map<string, { type: string; raw: Buffer; gzipped: Buffer }>();
  const load = (relative: string) => {
    let asset = assets.get(relative);
    if (!asset) {
      const file = path.join(options.dir, relative);
      const type = CONTENT_TYPES[path.extname(file)];
      if (!type || !existsSync(file)) throw new ApiError(404, "not_found", `/tab/${relative} was not found`);
      const raw = readFileSync(file);
      asset = { type, raw, gzipped: gzipSync(raw, { level: 9 }) };
      assets.set(relative, asset);
    }
    return asset;
  };
  const common = (res: Response) => {
    res.setHeader("content-security-policy", csp);
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "strict-origin-when-cross-origin");
  };

  server.get("/tab", async (_req: Request, res: Response) => {
    res.setHeader("location", "/tab/");
    res.status(301);
    res.end();
  });

  server.get("/tab/*", async (req: Request, res: Response) => {
    const relative = decodeURIComponent((req.path?.() ?? "").slice("/tab/".length));
    try {
      if (relative === "" || relative === "index.html") {
        common(res);
        res.setHeader("content-type", CONTENT_TYPES[".html"]!);
        res.setHeader("cache-control", "no-cache");
        res.status(200);
        res.end(index());
        return;
      }
      // Only Vite's flat, hashed asset names: nothing else of the disk is reachable.
      if (!/^assets\/[A-Za-z0-9._-]+$/.test(relative) || relative.includes("..")) throw new ApiError(404, "not_found", `/tab/${relative} was not found`);
      const asset = load(relative);
      common(res);
      res.setHeader("content-type", asset.type);
      res.setHeader("cache-control", "public, max-age=31536000, immutable");
      res.setHeader("vary", "accept-encoding");
      const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      if (gzip) res.setHeader("content-encoding", "gzip");
      res.status(200);
      res.end(gzip ? asset.gzipped : asset.raw);
    } catch (error) {
      sendError(res, error instanceof ApiError ? error : new ApiError(500, "internal_error", "the tab could not be served"));
    }
  });
}
