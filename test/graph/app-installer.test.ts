import assert from "node:assert/strict";
import sinon from "sinon";
import type { AccessToken, TokenCredential } from "@azure/identity";
import { silentLogger } from "../../src/logger";
import { GraphClient, type RetryPolicy } from "../../src/graph/graph-client";
import { GraphAppInstaller, type GraphAppInstallerOptions } from "../../src/graph/app-installer";
import {
  GraphAppNotInCatalogError, GraphInstallError, GraphInstallationNotFoundError, GraphPermissionError, GraphUserNotFoundError,
} from "../../src/graph/install-errors";
import { FakeGraph, type FakeGraphOptions } from "../support/fake-graph";

const CATALOG_ID = "5f1b1263-aaaa-4bbb-8ccc-000000000001";
const MANIFEST_ID = "a1b2c3d4-0000-4000-8000-00000000beef";
const ALICE = { id: "11111111-1111-4111-8111-111111111111", userPrincipalName: "alice@contoso.com" };
const BOB = { id: "22222222-2222-4222-8222-222222222222", userPrincipalName: "bob@contoso.com" };
const CAROL = { id: "33333333-3333-4333-8333-333333333333", userPrincipalName: "carol@contoso.com" };

function fakeCredential(tokens = ["token-1", "token-2", "token-3"], now: () => number = Date.now) {
  let issued = 0;
  const getToken = sinon.fake(async (_scope: string | string[]): Promise<AccessToken> =>
    ({ token: tokens[Math.min(issued++, tokens.length - 1)]!, expiresOnTimestamp: now() + 60 * 60_000 }));
  return { credential: { getToken } as unknown as TokenCredential, getToken };
}

describe("GraphAppInstaller (against a fake Microsoft Graph on 127.0.0.1)", () => {
  let graph: FakeGraph;
  let sleep: sinon.SinonSpy<[number], Promise<void>>;

  afterEach(async () => {
    await graph?.stop();
  });

  async function setup(options: {
    fake?: FakeGraphOptions; retry?: Partial<RetryPolicy>; installer?: Partial<GraphAppInstallerOptions>; credential?: TokenCredential; now?: () => number;
  } = {}) {
    graph = await FakeGraph.start(options.fake);
    graph.addUser(ALICE).addUser(BOB).addUser(CAROL)
      .addCatalogApp({ id: CATALOG_ID, externalId: MANIFEST_ID, displayName: "Herald", distributionMethod: "organization" });
    sleep = sinon.spy(async (_ms: number) => {});
    const { credential, getToken } = options.credential ? { credential: options.credential, getToken: undefined } : fakeCredential(undefined, options.now);
    const client = new GraphClient({
      credential, logger: silentLogger(), baseUrl: graph.url, sleep, random: () => 0.5, now: options.now,
      retry: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100, ...options.retry },
    });
    const installer = new GraphAppInstaller({
      client, teamsAppId: CATALOG_ID, externalAppId: MANIFEST_ID, logger: silentLogger(), lookupDelayMs: 1, sleep, ...options.installer,
    });
    return { client, installer, getToken };
  }

  it("installs for a new user (201), finds the installation and returns the 1:1 chat id", async () => {
    const { installer } = await setup();

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.deepEqual(result, { user: ALICE.id, status: "installed", chatId: `19:${ALICE.id}_${CATALOG_ID}@unq.gbl.spaces` });
    assert.equal(graph.installationsOf(ALICE.id).length, 1);
    const [install, list, chat] = graph.requests;
    assert.equal(install!.route, "install");
    assert.equal(install!.status, 201);
    assert.equal(install!.path, `/v1.0/users/${ALICE.id}/teamwork/installedApps`);
    assert.deepEqual(install!.body, { "teamsApp@odata.bind": `https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/${CATALOG_ID}` });
    assert.match(install!.contentType ?? "", /^application\/json/);
    assert.equal(list!.route, "listInstalledApps");
    assert.equal(list!.query.$filter, `teamsApp/id eq '${CATALOG_ID}'`);
    assert.equal(list!.query.$expand, "teamsApp");
    assert.equal(chat!.route, "getChat");
    assert.equal(chat!.path, `/v1.0/users/${ALICE.id}/teamwork/installedApps/${graph.installationsOf(ALICE.id)[0]!.id}/chat`);
    assert.equal(graph.requests.length, 3);
  });

  it("accepts a UPN as the user", async () => {
    const { installer } = await setup();

    const result = await installer.ensureInstalledForUser("Bob@Contoso.com");

    assert.equal(result.status, "installed");
    assert.equal(result.chatId, `19:${BOB.id}_${CATALOG_ID}@unq.gbl.spaces`);
    assert.equal(graph.requests[0]!.path, "/v1.0/users/Bob@Contoso.com/teamwork/installedApps");
  });

  it("treats 409 Conflict as already installed and returns the existing chat id", async () => {
    const { installer } = await setup();
    const existing = graph.preinstall(ALICE.id, CATALOG_ID);

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.deepEqual(result, { user: ALICE.id, status: "alreadyInstalled", chatId: existing.chatId });
    assert.equal(graph.requests[0]!.status, 409);
    assert.equal(graph.installationsOf(ALICE.id).length, 1);
  });

  it("finds another catalog copy of the same app (side-loaded) by its manifest id", async () => {
    const { installer } = await setup();
    graph.addCatalogApp({ id: "sideloaded-copy", externalId: MANIFEST_ID, distributionMethod: "sideloaded" });
    const sideloaded = graph.preinstall(CAROL.id, "sideloaded-copy");

    const result = await installer.ensureInstalledForUser(CAROL.userPrincipalName);

    assert.deepEqual(result, { user: CAROL.userPrincipalName, status: "alreadyInstalled", chatId: sideloaded.chatId });
    const filters = graph.requestsTo("listInstalledApps").map((request) => request.query.$filter);
    assert.deepEqual(filters, [`teamsApp/id eq '${CATALOG_ID}'`, `teamsApp/externalId eq '${MANIFEST_ID}'`]);
  });

  it("reports an app missing from the catalog (404) as GraphAppNotInCatalogError", async () => {
    const { installer } = await setup({ installer: { teamsAppId: "not-published" } });

    const error = await installer.ensureInstalledForUser(ALICE.id).then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphAppNotInCatalogError, `got ${String(error)}`);
    assert.equal(error.code, "appNotInCatalog");
    assert.equal(error.status, 404);
    assert.match(error.message, /not-published is not in the tenant's app catalog/);
    assert.deepEqual(graph.requests.map((request) => [request.route, request.status]), [["install", 404], ["listInstalledApps", 200]]);
  });

  it("reports an unknown user (404, and 404 listing their apps) as GraphUserNotFoundError", async () => {
    const { installer } = await setup();

    const error = await installer.ensureInstalledForUser("nobody@contoso.com").then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphUserNotFoundError, `got ${String(error)}`);
    assert.equal(error.code, "userNotFound");
    assert.match(error.message, /nobody@contoso\.com was not found/);
  });

  it("says 'app or user not found' when Graph cannot tell which (listing the user's apps fails too)", async () => {
    const { installer } = await setup({ installer: { teamsAppId: "not-published" } });
    graph.failNext("listInstalledApps", 1, { status: 500 });

    const error = await installer.ensureInstalledForUser(ALICE.id).then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphInstallError);
    assert.equal(error.code, "appNotInCatalogOrUserNotFound");
    assert.match(error.message, /not found in the tenant's app catalog, or user .* was not found/);
  });

  it("waits as long as Retry-After asks on 429, then succeeds", async () => {
    const { installer } = await setup();
    graph.failNext("install", 1, { status: 429, retryAfter: "2" });

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.equal(result.status, "installed");
    assert.deepEqual(sleep.args.map(([ms]) => ms), [2000]);
    assert.deepEqual(graph.requestsTo("install").map((request) => request.status), [429, 201]);
  });

  it("backs off exponentially on 429 without Retry-After and on 503/504, then succeeds", async () => {
    const { installer } = await setup({ retry: { baseDelayMs: 100, maxDelayMs: 10_000 } });
    graph.failNext("install", 1, { status: 429 }).failNext("install", 1, { status: 503 }).failNext("getChat", 1, { status: 504 });

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.equal(result.status, "installed");
    assert.deepEqual(graph.requestsTo("install").map((request) => request.status), [429, 503, 201]);
    assert.deepEqual(graph.requestsTo("getChat").map((request) => request.status), [504, 200]);
    // random() = 0.5 → half the step fixed plus a quarter: 75 ms, then 150 ms; the chat retry starts over at 75.
    assert.deepEqual(sleep.args.map(([ms]) => ms), [75, 150, 75]);
  });

  it("gives up after the bounded number of attempts with a throttled error", async () => {
    const { installer } = await setup({ retry: { maxAttempts: 3 } });
    graph.failNext("install", 10, { status: 429, retryAfter: "0" });

    const error = await installer.ensureInstalledForUser(ALICE.id).then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphInstallError);
    assert.equal(error.code, "throttled");
    assert.equal(graph.requestsTo("install").length, 3);
  });

  it("reports 403 as a permission error naming the Graph permission, without retrying", async () => {
    const { installer } = await setup();
    graph.failNext("install", 1, { status: 403 });

    const error = await installer.ensureInstalledForUser(ALICE.id).then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphPermissionError, `got ${String(error)}`);
    assert.equal(error.code, "permissionDenied");
    assert.match(error.message, /TeamsAppInstallation\.ReadWriteSelfForUser\.All/);
    assert.match(error.message, /admin consent/);
    assert.equal(graph.requests.length, 1);
    assert.equal(sleep.callCount, 0);
  });

  it("looks again when a fresh installation is not listed yet", async () => {
    const { installer } = await setup({ fake: { newInstallationHiddenForLists: 2 } });

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.equal(result.chatId, `19:${ALICE.id}_${CATALOG_ID}@unq.gbl.spaces`);
    // Each attempt lists by catalog id, then by manifest id: two hidden lists cost one attempt.
    assert.equal(graph.requestsTo("listInstalledApps").length, 3);
  });

  it("gives up with GraphInstallationNotFoundError when the installation never shows up", async () => {
    const { installer } = await setup({ fake: { newInstallationHiddenForLists: 1000 }, installer: { lookupAttempts: 3 } });

    const error = await installer.ensureInstalledForUser(ALICE.id).then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphInstallationNotFoundError, `got ${String(error)}`);
    assert.match(error.message, /webApplicationInfo/);
    assert.equal(graph.requestsTo("listInstalledApps").length, 6);
  });

  it("installs for many users, one failing, and reports each user in order", async () => {
    const { installer } = await setup({ installer: { concurrency: 2 } });
    graph.preinstall(BOB.id, CATALOG_ID);

    const outcomes = await installer.ensureInstalledForUsers([ALICE.id, "ghost@contoso.com", BOB.userPrincipalName, "  ", CAROL.id, ALICE.id.toUpperCase()]);

    assert.deepEqual(outcomes.map((outcome) => outcome.user), [ALICE.id, "ghost@contoso.com", BOB.userPrincipalName, CAROL.id]);
    assert.deepEqual(outcomes[0], { user: ALICE.id, ok: true, status: "installed", chatId: `19:${ALICE.id}_${CATALOG_ID}@unq.gbl.spaces` });
    assert.equal(outcomes[1]!.ok, false);
    assert.equal(!outcomes[1]!.ok && outcomes[1]!.error.code, "userNotFound");
    assert.deepEqual(outcomes[2], { user: BOB.userPrincipalName, ok: true, status: "alreadyInstalled", chatId: `19:${BOB.id}_${CATALOG_ID}@unq.gbl.spaces` });
    assert.equal(outcomes[3]!.ok && outcomes[3]!.status, "installed");
  });

  it("keeps at most `concurrency` users in flight", async () => {
    const { installer } = await setup({ installer: { concurrency: 2 } });
    let inFlight = 0;
    let maxInFlight = 0;
    sinon.stub(installer, "ensureInstalledForUser").callsFake(async (user: string) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { user, chatId: `19:${user}`, status: "installed" as const };
    });

    const outcomes = await installer.ensureInstalledForUsers(["a", "b", "c", "d", "e"]);

    assert.equal(outcomes.length, 5);
    assert.equal(maxInFlight, 2);
  });

  it("asks the credential for the Graph scope once, sends the token as Bearer and reuses it", async () => {
    const { installer, getToken } = await setup();

    await installer.ensureInstalledForUser(ALICE.id);
    await installer.ensureInstalledForUser(BOB.id);

    assert.equal(getToken!.callCount, 1);
    assert.equal(getToken!.firstCall.args[0], "https://graph.microsoft.com/.default");
    assert.ok(graph.requests.length >= 6);
    for (const request of graph.requests) assert.equal(request.authorization, "Bearer token-1");
  });

  it("gets a new token when the cached one is about to expire", async () => {
    let now = Date.now();
    const { installer, getToken } = await setup({ now: () => now });

    await installer.ensureInstalledForUser(ALICE.id);
    now += 60 * 60_000;
    await installer.ensureInstalledForUser(BOB.id);

    assert.equal(getToken!.callCount, 2);
    assert.equal(graph.requests.at(-1)!.authorization, "Bearer token-2");
  });

  it("fetches a fresh token once when Graph rejects the cached one (401)", async () => {
    const { credential, getToken } = fakeCredential(["revoked", "fresh"]);
    const { installer } = await setup({ credential, fake: { acceptToken: (token) => token !== "revoked" } });

    const result = await installer.ensureInstalledForUser(ALICE.id);

    assert.equal(result.status, "installed");
    assert.equal(getToken.callCount, 2);
    assert.deepEqual(graph.requests.slice(0, 2).map((request) => [request.authorization, request.status]), [["Bearer revoked", 401], ["Bearer fresh", 201]]);
  });

  it("reports a credential failure as authenticationFailed without calling Graph", async () => {
    const credential = { getToken: sinon.fake.rejects(new Error("AADSTS7000215: Invalid client secret provided.")) } as unknown as TokenCredential;
    const { installer } = await setup({ credential });

    const [outcome] = await installer.ensureInstalledForUsers([ALICE.id]);

    assert.equal(outcome!.ok, false);
    assert.equal(!outcome!.ok && outcome!.error.code, "authenticationFailed");
    assert.equal(graph.requests.length, 0);
  });
});
