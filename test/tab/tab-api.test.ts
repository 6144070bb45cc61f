/**
 * The tab's HTTP surface without a browser: headers, static files, who may call what, errors in the API's shape,
 * and the composer's guard rails. Herald runs in-process against the connector emulator; tokens come from the
 * loopback test Entra.
 */
import { strict as assert } from "node:assert";
import type { SeededUser } from "../../src/emulator/types";
import { TAB_SCOPE } from "../../src/tab/tab-identity";
import { TEAMS_FRAME_ANCESTORS } from "../../src/tab/tab-static";
import { eventually, startHerald, type HeraldFixture } from "../support/herald-fixture";
import { TEST_CLIENT_ID, TEST_DOMAIN, TestEntra, type SignOptions } from "../support/test-entra";

const TENANT = "tenant-tabapi";

describe("the tab's HTTP API and pages", function () {
  this.timeout(60_000);
  let entra: TestEntra;
  let fx: HeraldFixture;
  let alex: SeededUser;
  let megan: SeededUser;

  const token = (who: SeededUser, claims: Record<string, unknown> = {}, options: SignOptions = {}) =>
    entra.sign({ oid: who.aadObjectId, tid: who.tenantId, name: who.name, upn: who.userPrincipalName, scp: TAB_SCOPE, ...claims }, options);
  const call = async (method: string, path: string, auth: { token?: string; as?: string } = {}, body?: unknown) =>
    fx.api(method, path, body, {
      ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}),
      ...(auth.as ? { "x-herald-as": auth.as } : {}),
    });

  before(async function () {
    this.timeout(60_000);
    entra = await TestEntra.start();
    fx = await startHerald({
      env: {
        AAD_APP_CLIENT_ID: TEST_CLIENT_ID, BOT_DOMAIN: TEST_DOMAIN, HERALD_ENTRA_METADATA_URL: entra.metadataUrl,
        HERALD_ALLOWED_TENANTS: TENANT, HERALD_SENDERS: "user2@tenant-tabapi.example",
      },
      tenant: { tenantId: TENANT, users: 6, teams: [{ name: "Operations", memberCount: 4 }] },
    });
    [alex, megan] = fx.tenant.users;
    for (const user of fx.tenant.users) await fx.driver.installPersonal(user);
    await fx.driver.installTeam(fx.tenant.teams[0]!, alex);
    await fx.rostersSynced();
  });
  after(async () => {
    await fx?.stop();
    await entra?.stop();
  });

  describe("pages and headers", () => {
    it("serves the tab with a CSP: no inline script, frame-ancestors the Teams and Microsoft 365 hosts (loopback only in local mode)", async () => {
      const res = await fetch(`${fx.url}/tab/`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type")!, /^text\/html/);
      const csp = res.headers.get("content-security-policy")!;
      assert.match(csp, /script-src 'self';/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      const ancestors = /frame-ancestors ([^;]+)/.exec(csp)![1]!.split(" ");
      for (const hostname of TEAMS_FRAME_ANCESTORS) assert.ok(ancestors.includes(hostname), hostname);
      assert.ok(ancestors.includes("https://teams.microsoft.com") && ancestors.includes("https://*.cloud.microsoft"));
      assert.ok(ancestors.includes("http://127.0.0.1:*"), "local mode (no BOT_ID) lets loopback pages frame it");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const html = await res.text();
      assert.match(html, /<meta name="herald-mode" content="local">/);
      assert.doesNotMatch(html.replace(/<script type="module" crossorigin src="[^"]+"><\/script>/g, ""), /<script/, "no inline script in the page");
    });

    it("serves the hashed assets with long caching and refuses anything else under /tab/ with a JSON 404", async () => {
      const html = await (await fetch(`${fx.url}/tab/`)).text();
      const script = /src="(\/tab\/assets\/[^"]+\.js)"/.exec(html)![1]!;
      const js = await fetch(`${fx.url}${script}`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get("content-type")!, /^text\/javascript/);
      assert.match(js.headers.get("cache-control")!, /immutable/);
      assert.equal(js.headers.get("content-encoding"), "gzip", "compressed for clients that accept it (fetch decodes it)");
      assert.ok((await js.text()).length > 1000);
      for (const path of ["/tab/assets/..%2F..%2Fpackage.json", "/tab/assets/nothing.js", "/tab/secret.txt", "/tab/..%2Fpackage.json"]) {
        const res = await fetch(`${fx.url}${path}`);
        assert.equal(res.status, 404, path);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, "not_found");
      }
      const redirect = await fetch(`${fx.url}/tab`, { redirect: "manual" });
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get("location"), "/tab/");
    });

    it("a deployed Herald (BOT_ID set) lets only Teams and Microsoft 365 frame the tab, and ignores ?as=", async () => {
      const deployed = await startHerald({
        env: { BOT_ID: "00000000-0000-4000-8000-00000000b075", BOT_PASSWORD: "not-used-here", HERALD_API_KEY: "k".repeat(32), AAD_APP_CLIENT_ID: TEST_CLIENT_ID, HERALD_ENTRA_METADATA_URL: entra.metadataUrl },
        tenant: { tenantId: "tenant-deployed", users: 1 },
      });
      try {
        const res = await fetch(`${deployed.url}/tab/`);
        assert.doesNotMatch(res.headers.get("content-security-policy")!, /127\.0\.0\.1|localhost/);
        assert.match(await res.text(), /content="teams"/);
        const me = await deployed.api("GET", "/tab/api/me", undefined, { "x-herald-as": deployed.tenant.users[0]!.aadObjectId });
        assert.equal(me.status, 401);
        assert.match(me.body.error.message, /Teams sign-in token is required/);
        assert.equal((await deployed.api("GET", "/tab/api/local/people")).status, 404, "nobody is listed outside local mode");
      } finally {
        await deployed.stop();
      }
    });
  });

  describe("identity", () => {
    it("answers 401 in the API's error shape without credentials, and names what is missing", async () => {
      const res = await call("GET", "/tab/api/me");
      assert.equal(res.status, 401);
      assert.deepEqual(Object.keys(res.body.error).sort(), ["code", "message"]);
      assert.match(res.body.error.message, /sign in through Teams, or in local mode open \/tab\/\?as=/);
    });

    it("takes the person from a valid SSO token: oid and tid; the Herald.Sender role or HERALD_SENDERS makes a sender", async () => {
      const plain = await call("GET", "/tab/api/me", { token: await token(alex) });
      assert.equal(plain.status, 200);
      assert.deepEqual(plain.body, { oid: alex.aadObjectId, tid: TENANT, name: alex.name, upn: alex.userPrincipalName, isSender: false, signedInWith: "sso" });
      assert.equal((await call("GET", "/tab/api/me", { token: await token(alex, { roles: ["Herald.Sender"] }) })).body.isSender, true);
      assert.equal((await call("GET", "/tab/api/me", { token: await token(megan) })).body.isSender, true, "listed in HERALD_SENDERS by UPN");
    });

    it("refuses application tokens and tokens without the tab's scope (403), other tenants and bad tokens (401)", async () => {
      const app = await entra.sign({ oid: "app-oid", tid: TENANT, sub: "app-oid", roles: ["Notifications.Send"], idtyp: "app" });
      assert.equal((await call("GET", "/tab/api/me", { token: app })).status, 403);
      const noScope = await call("GET", "/tab/api/me", { token: await token(alex, { scp: "User.Read" }) });
      assert.equal(noScope.status, 403);
      assert.match(noScope.body.error.message, /access_as_user/);
      const otherTenant = await call("GET", "/tab/api/me", { token: await entra.sign({ oid: alex.aadObjectId, tid: "tenant-elsewhere", scp: TAB_SCOPE }) });
      assert.equal(otherTenant.status, 401);
      assert.match(otherTenant.body.error.message, /tenant_not_allowed/);
      const wrongAudience = await call("GET", "/tab/api/me", { token: await token(alex, {}, { audience: "api://elsewhere/other-app" }) });
      assert.equal(wrongAudience.body.error.code, "invalid_token");
      // A token is never ignored in favour of local mode's ?as=.
      const both = await call("GET", "/tab/api/me", { token: "garbage", as: alex.aadObjectId });
      assert.equal(both.status, 401);
    });

    it("answers 503, not 401, while Entra ID's keys cannot be read", async () => {
      const fresh = await startHerald({ env: { AAD_APP_CLIENT_ID: TEST_CLIENT_ID, HERALD_ENTRA_METADATA_URL: entra.metadataUrl }, tenant: { tenantId: TENANT, users: 1 } });
      entra.metadataDown = true;
      try {
        const res = await fresh.api("GET", "/tab/api/me", undefined, { authorization: `Bearer ${await token(alex)}` });
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, "sign_in_unavailable");
      } finally {
        entra.metadataDown = false;
        await fresh.stop();
      }
    });

    it("local mode: ?as= names a person Herald knows, by object id or Teams user id; someone unknown is a clear 404", async () => {
      assert.equal((await call("GET", "/tab/api/me", { as: alex.aadObjectId })).body.oid, alex.aadObjectId);
      const byTeamsId = await call("GET", "/tab/api/me", { as: alex.id });
      assert.deepEqual([byTeamsId.body.oid, byTeamsId.body.isSender, byTeamsId.body.signedInWith], [alex.aadObjectId, true, "local"]);
      const people = await call("GET", "/tab/api/local/people");
      assert.ok(people.body.items.some((p: any) => p.id === alex.aadObjectId && p.name === alex.name), "the chooser at /tab/ lists people Herald knows");
      const unknown = await call("GET", "/tab/api/me", { as: "nobody-at-all" });
      assert.equal(unknown.status, 404);
      assert.match(unknown.body.error.message, /nobody with Entra object id or Teams user id "nobody-at-all"/);
    });
  });

  describe("preferences", () => {
    it("a switch in the tab is the chat's stop/start, both ways, and 'everything' is chat's plain stop/start", async () => {
      const auth = { token: await token(alex) };
      const off = await call("PUT", "/tab/api/preferences", auth, { category: "weekly-digest", enabled: false });
      assert.equal(off.status, 200);
      assert.deepEqual(off.body.categories, [{ category: "weekly-digest", stopped: true }]);
      assert.equal(await fx.store.preferences.isOptedOut(TENANT, [alex.aadObjectId, alex.id], "weekly-digest"), true);
      await fx.driver.message(alex, alex, "start weekly-digest");
      // A topic is listed while the person has been sent it or has it stopped: never sent, and now started again.
      assert.deepEqual((await call("GET", "/tab/api/preferences", auth)).body.categories, []);
      // An opt-out Teams recorded under the Teams user id (no object id in the activity) shows too, and is cleared by the tab.
      await fx.store.preferences.optOut(TENANT, alex.id, "surveys");
      assert.deepEqual((await call("GET", "/tab/api/preferences", auth)).body.categories.find((c: any) => c.category === "surveys"), { category: "surveys", stopped: true });
      await call("PUT", "/tab/api/preferences", auth, { category: "surveys", enabled: true });
      assert.equal(await fx.store.preferences.isOptedOut(TENANT, [alex.id], "surveys"), false);

      const everything = await call("PUT", "/tab/api/preferences", auth, { category: "*", enabled: false });
      assert.equal(everything.body.stoppedEverything, true);
      assert.equal(await fx.store.preferences.isOptedOut(TENANT, [alex.aadObjectId], "anything"), true);
      await fx.driver.message(alex, alex, "start");
      assert.equal((await call("GET", "/tab/api/preferences", auth)).body.stoppedEverything, false);
    });

    it("rejects a malformed change with a 400 naming the field, and changes nothing", async () => {
      const auth = { token: await token(megan) };
      for (const [body, field] of [[{ category: "", enabled: false }, "category"], [{ category: "x", enabled: "no" }, "enabled"], [{ category: "x", enabled: true, extra: 1 }, "(body)"]] as const) {
        const res = await call("PUT", "/tab/api/preferences", auth, body);
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.body.error.code, "invalid_request");
        if (field !== "(body)") assert.match(res.body.error.message, new RegExp(`^${field}`));
      }
      assert.deepEqual(await fx.store.preferences.list(TENANT, megan.aadObjectId), []);
    });
  });

  describe("senders' routes", () => {
    it("compose sends as the signed-in person within their own tenant; `source` is not theirs to set", async () => {
      const auth = { token: await token(alex, { roles: ["Herald.Sender"] }) };
      const created = await call("POST", "/tab/api/notifications", auth, { title: "Fire drill", text: "at 11:00", audience: { kind: "all", tenantId: "tenant-elsewhere" } });
      assert.equal(created.status, 202);
      const job = await fx.store.jobs.getJob(created.body.id);
      assert.deepEqual(job!.audience, { kind: "all", tenantId: TENANT });
      assert.equal(job!.triggeredBy, `${alex.name} (Herald tab)`);
      const spoof = await call("POST", "/tab/api/notifications", auth, { title: "x", text: "y", source: "HR system" });
      assert.equal(spoof.status, 400);
      assert.match(spoof.body.error.message, /unknown field\(s\): source/);
      const bad = await call("POST", "/tab/api/notifications", auth, { title: "x", text: "y", audience: { kind: "teamMembers", teamId: "19:nope@thread.tacv2" } });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /^audience\.teamId: Herald is not installed in team/);
    });

    it("a notification for another tenant is not shown to this tenant's senders", async () => {
      // Written straight to the store: this Herald's API refuses audiences outside HERALD_ALLOWED_TENANTS.
      const { job: other } = await fx.store.jobs.createJob({
        id: "job-elsewhere", status: "completed", content: { title: "Elsewhere", text: "x" }, audience: { kind: "all", tenantId: "tenant-elsewhere" },
        triggeredBy: "api", createdAt: new Date().toISOString(),
      }, []);
      const mine = await fx.api("POST", "/api/notifications", { title: "Here", text: "x", audience: { kind: "all", tenantId: TENANT } });
      const auth = { token: await token(alex, { roles: ["Herald.Sender"] }) };
      assert.equal((await call("GET", `/tab/api/notifications/${other.id}`, auth)).status, 404);
      assert.equal((await call("GET", `/tab/api/notifications/${mine.body.id}`, auth)).status, 200);
      const listed = (await call("GET", "/tab/api/notifications?limit=100", auth)).body.items.map((n: any) => n.id);
      assert.ok(listed.includes(mine.body.id) && !listed.includes(other.id));
    });

    it("searches the member directory of the sender's tenant only", async () => {
      const auth = { token: await token(alex, { roles: ["Herald.Sender"] }) };
      const found = await call("GET", `/tab/api/directory/people?q=${encodeURIComponent(megan.name.split(" ")[0]!.slice(0, 3))}`, auth);
      assert.ok(found.body.items.some((p: any) => p.aadObjectId === megan.aadObjectId && p.upn === megan.userPrincipalName));
      assert.ok(found.body.items.every((p: any) => fx.tenant.users.some((u) => u.id === p.userId)));
      const teams = await call("GET", "/tab/api/directory/conversations?kind=channel", auth);
      assert.deepEqual(teams.body.items.map((t: any) => t.name), ["Operations"]);
      const channels = await call("GET", `/tab/api/directory/teams/${encodeURIComponent(fx.tenant.teams[0]!.id)}/channels`, auth);
      assert.equal(channels.body.items[0].name, "General");
    });

    it("the preview is the bot's card for a representative recipient; an unknown template is a 400", async () => {
      const auth = { token: await token(alex, { roles: ["Herald.Sender"] }) };
      const res = await call("POST", "/tab/api/preview", auth, {
        title: "CPU high", text: "web-3 at 97%", card: { template: "alert", data: { severity: "critical", service: "web" } },
        audience: { kind: "teamMembers", teamId: fx.tenant.teams[0]!.id },
      });
      assert.equal(res.status, 200);
      const text = JSON.stringify(res.body.card);
      assert.match(text, /CRITICAL: CPU high/);
      assert.match(text, /member of the team Operations/);
      assert.match(text, /"herald":"optout","category":"general"/);
      const unknown = await call("POST", "/tab/api/preview", auth, { title: "x", card: { template: "nope", data: {} } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.error.message, /^card\.template: unknown template/);
    });

    it("the report filters by status and reason; an unknown status is a 400", async () => {
      const auth = { token: await token(alex, { roles: ["Herald.Sender"] }) };
      await fx.store.preferences.optOut(TENANT, megan.aadObjectId, "reports");
      const created = await fx.api("POST", "/api/notifications", { title: "Report", text: "x", category: "reports", audience: { kind: "installations", types: ["personal"] } });
      await eventually(async () => (await fx.api("GET", `/api/notifications/${created.body.id}`)).body.status === "completed", "completion");
      const skipped = await call("GET", `/tab/api/notifications/${created.body.id}/deliveries?reason=OPTED`, auth);
      assert.deepEqual(skipped.body.items.map((d: any) => [d.recipient, d.status, d.reason]), [[megan.name, "skipped", "opted out"]]);
      const sent = await call("GET", `/tab/api/notifications/${created.body.id}/deliveries?status=sent&limit=2`, auth);
      assert.equal(sent.body.items.length, 2);
      assert.ok(sent.body.cursor);
      const bad = await call("GET", `/tab/api/notifications/${created.body.id}/deliveries?status=lost`, auth);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /^status: must be one of/);
    });
  });
});
