/**
 * A stand-in for the Teams web client, for browser tests: a loopback page that frames the tab and answers
 * teams-js's host messages — initialize (with a runtime config), getContext (user, tenant, theme),
 * authentication.getAuthToken (whatever token the test hands it) — and sends themeChange on request.
 *
 * Served on its own port, so the tab sees a cross-origin parent exactly as in Teams. The test supplies tokens by
 * exposing `window.heraldToken()` on the page (playwright's page.exposeFunction).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface HostContext {
  userObjectId: string;
  tenantId: string;
  userPrincipalName?: string;
  theme?: "default" | "dark" | "contrast";
}

const HOST_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test Teams host</title>
<link rel="stylesheet" href="/host.css"></head>
<body><main><iframe id="tab" title="Herald"></iframe></main><script src="/host.js"></script></body></html>`;

const HOST_CSS = `html, body, main { margin: 0; height: 100%; } iframe { border: 0; width: 100%; height: 100%; display: block; }`;

// The host side of teams-js's postMessage protocol (requests carry id + uuidAsString; answers echo them).
const HOST_JS = `
const params = new URLSearchParams(location.search);
const frame = document.getElementById("tab");
const tabOrigin = new URL(params.get("tab")).origin;
const state = window.hostState = { theme: params.get("theme") || "default", calls: [] };
const runtimeConfig = {
  apiVersion: 4,
  isLegacyTeams: false,
  supports: { appInstallDialog: {}, authentication: {}, pages: { appButton: {}, tabs: {}, config: {}, backStack: {}, fullTrust: {} }, teamsCore: {}, dialog: { card: {}, url: {} } },
};
function context() {
  return {
    locale: "en-us", theme: state.theme, frameContext: "content", hostClientType: "web", hostName: "Teams",
    entityId: "herald-home", appSessionId: "test-session", teamsJsInstanceId: "x",
    userObjectId: params.get("oid"), tid: params.get("tid"), userPrincipalName: params.get("upn") || "", loginHint: params.get("upn") || "",
  };
}
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow || event.origin !== tabOrigin) return;
  const msg = event.data;
  if (!msg || typeof msg.func !== "string") return;
  state.calls.push(msg.func);
  const reply = (args) => frame.contentWindow.postMessage({ id: msg.id, uuidAsString: msg.uuidAsString, args }, tabOrigin);
  switch (msg.func) {
    case "initialize": reply(["content", "web", JSON.stringify(runtimeConfig), "2.58.0"]); break;
    case "getContext": reply([context()]); break;
    case "authentication.getAuthToken": {
      const token = await window.heraldToken();
      if (token) reply([true, token]); else reply([false, "resourceRequiresConsent"]);
      break;
    }
    default: break; // registerHandler, appInitialization.success …: nothing to answer
  }
});
window.changeTheme = (theme) => {
  state.theme = theme;
  frame.contentWindow.postMessage({ func: "themeChange", args: [theme] }, tabOrigin);
};
frame.src = params.get("tab");
`;

export class TeamsHost {
  private constructor(private readonly server: http.Server, readonly origin: string) {}

  static async start(): Promise<TeamsHost> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const [type, body] = path === "/host.js" ? ["text/javascript", HOST_JS] : path === "/host.css" ? ["text/css", HOST_CSS] : ["text/html; charset=utf-8", HOST_HTML];
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new TeamsHost(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** The host page framing `tabUrl` for this person. */
  url(tabUrl: string, who: HostContext): string {
    const params = new URLSearchParams({ tab: tabUrl, oid: who.userObjectId, tid: who.tenantId, theme: who.theme ?? "default", upn: who.userPrincipalName ?? "" });
    return `${this.origin}/?${params}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
