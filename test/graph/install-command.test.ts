import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TokenCredential } from "@azure/identity";
import { silentLogger } from "../../src/logger";
import { GraphClient } from "../../src/graph/graph-client";
import { GraphAppInstaller } from "../../src/graph/app-installer";
import { createGraphAppInstaller, runInstallCommand } from "../../src/cli/install-command";
import { FakeGraph } from "../support/fake-graph";

const CATALOG_ID = "5f1b1263-aaaa-4bbb-8ccc-000000000001";
const credential = { getToken: async () => ({ token: "cli-token", expiresOnTimestamp: Date.now() + 3_600_000 }) } as unknown as TokenCredential;

describe("herald install (CLI command)", () => {
  let graph: FakeGraph;
  let dir: string;
  let installer: GraphAppInstaller;
  let lines: string[];
  const run = (args: string[]) => runInstallCommand(args, { installer, logger: silentLogger(), out: (line) => lines.push(line) });

  beforeEach(async () => {
    graph = await FakeGraph.start();
    graph.addCatalogApp({ id: CATALOG_ID, externalId: "manifest-id" })
      .addUser({ id: "id-a", userPrincipalName: "a@contoso.com" })
      .addUser({ id: "id-b", userPrincipalName: "b@contoso.com" })
      .addUser({ id: "id-c", userPrincipalName: "c@contoso.com" });
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: graph.url, sleep: async () => {} });
    installer = new GraphAppInstaller({ client, teamsAppId: CATALOG_ID, logger: silentLogger(), lookupDelayMs: 1, sleep: async () => {} });
    dir = await mkdtemp(join(tmpdir(), "herald-install-"));
    lines = [];
  });

  afterEach(async () => {
    await graph.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("installs for --users and --file, prints one line per user and a summary, exit 0", async () => {
    graph.preinstall("b@contoso.com", CATALOG_ID);
    const file = join(dir, "users.txt");
    await writeFile(file, "# people\nb@contoso.com\n\n  c@contoso.com  \nA@contoso.com\n");

    const code = await run(["install", "--users", "a@contoso.com,b@contoso.com", "--file", file]);

    assert.equal(code, 0);
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^a@contoso\.com\s+installed\s+chat 19:id-a_/);
    assert.match(lines[1]!, /^b@contoso\.com\s+already installed\s+chat 19:id-b_/);
    assert.match(lines[2]!, /^c@contoso\.com\s+installed\s+chat 19:id-c_/);
    assert.equal(lines[3], "3 user(s): 2 installed, 1 already installed, 0 failed");
    assert.equal(graph.requestsTo("install").length, 3);
  });

  it("prints the reason for a user that failed and exits 1", async () => {
    const code = await run(["--users=a@contoso.com,ghost@contoso.com"]);

    assert.equal(code, 1);
    assert.match(lines[0]!, /^a@contoso\.com\s+installed/);
    assert.match(lines[1]!, /^ghost@contoso\.com\s+error\s+userNotFound: user ghost@contoso\.com was not found/);
    assert.equal(lines[2], "2 user(s): 1 installed, 0 already installed, 1 failed");
  });

  it("exits 2 with usage for no users, an unknown option or an unreadable file, without calling Graph", async () => {
    assert.equal(await run(["install"]), 2);
    assert.match(lines.join("\n"), /no users given[\s\S]*usage: herald install/);
    lines = [];
    assert.equal(await run(["install", "--user", "a@contoso.com"]), 2);
    assert.match(lines[0]!, /^error: .*--user/);
    lines = [];
    assert.equal(await run(["install", "--file", join(dir, "missing.txt")]), 2);
    assert.match(lines[0]!, /cannot read --file .*missing\.txt: ENOENT/);
    assert.equal(graph.requests.length, 0);
  });

  it("prints usage for --help", async () => {
    assert.equal(await run(["install", "--help"]), 0);
    assert.match(lines[0]!, /^usage: herald install/);
  });
});

describe("createGraphAppInstaller", () => {
  it("builds an installer for a client secret", () => {
    const installer = createGraphAppInstaller({ tenantId: "t", clientId: "c", clientSecret: "s", teamsAppId: CATALOG_ID, externalAppId: "m" }, silentLogger());
    assert.ok(installer instanceof GraphAppInstaller);
    assert.equal(installer.teamsAppId, CATALOG_ID);
    assert.equal(installer.externalAppId, "m");
  });

  it("names the missing variables when a secret comes without tenant or client id", () => {
    assert.throws(() => createGraphAppInstaller({ clientSecret: "s", teamsAppId: CATALOG_ID }, silentLogger()),
      /HERALD_GRAPH_TENANT_ID and HERALD_GRAPH_CLIENT_ID must be set/);
  });

  it("requires the catalog app id", () => {
    assert.throws(() => createGraphAppInstaller({ teamsAppId: " " }, silentLogger()), /TEAMS_APP_CATALOG_ID/);
  });
});
