import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sinon from "sinon";
import type { TokenCredential } from "@azure/identity";
import { silentLogger } from "../../src/logger";
import { GraphClient, GraphRequestError, parseRetryAfter } from "../../src/graph/graph-client";
import { FakeGraph } from "../support/fake-graph";

const credential = { getToken: async () => ({ token: "secret-token-value", expiresOnTimestamp: Date.now() + 3_600_000 }) } as unknown as TokenCredential;
const USER = { id: "11111111-1111-4111-8111-111111111111", userPrincipalName: "alice@contoso.com" };

describe("GraphClient", () => {
  const servers: Server[] = [];
  let graph: FakeGraph | undefined;

  afterEach(async () => {
    await graph?.stop();
    graph = undefined;
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  async function rawServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it("follows @odata.nextLink through every page", async () => {
    graph = await FakeGraph.start({ pageSize: 2 });
    graph.addUser(USER);
    for (const n of [1, 2, 3, 4, 5]) {
      graph.addCatalogApp({ id: `app-${n}`, externalId: `ext-${n}` });
      graph.preinstall(USER.id, `app-${n}`);
    }
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: graph.url });

    const pages: string[][] = [];
    for await (const page of client.pages<{ id: string; teamsApp: { id: string } }>(`/v1.0/users/${USER.id}/teamwork/installedApps`, { $expand: "teamsApp" })) {
      pages.push(page.map((installation) => installation.teamsApp.id));
    }

    assert.deepEqual(pages, [["app-1", "app-2"], ["app-3", "app-4"], ["app-5"]]);
    assert.deepEqual(graph.requests.map((request) => request.query.$skiptoken), [undefined, "2", "4"]);
    assert.ok(graph.requests.every((request) => request.query.$expand === "teamsApp"));
  });

  it("refuses to follow a next link to another host (the token would go with it)", async () => {
    const url = await rawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ value: [{ id: "x" }], "@odata.nextLink": "http://127.0.0.2:9/v1.0/elsewhere" }));
    });
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: url });

    const pages: unknown[] = [];
    await assert.rejects(async () => {
      for await (const page of client.pages("/v1.0/anything")) pages.push(page);
    }, (error: unknown) => error instanceof GraphRequestError && error.code === "unexpectedNextLink");
    assert.equal(pages.length, 1);
  });

  it("carries Graph's status, error code, message and request id in the error, and does not retry a 400", async () => {
    let calls = 0;
    const url = await rawServer((_req, res) => {
      calls++;
      res.writeHead(400, { "content-type": "application/json", "request-id": "req-123" });
      res.end(JSON.stringify({ error: { code: "BadRequest", message: "Invalid filter clause" } }));
    });
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: url, sleep: async () => {} });

    const error = await client.get("/v1.0/users/x/teamwork/installedApps").then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphRequestError);
    assert.equal(error.status, 400);
    assert.equal(error.code, "BadRequest");
    assert.equal(error.graphMessage, "Invalid filter clause");
    assert.equal(error.requestId, "req-123");
    assert.doesNotMatch(error.message, /secret-token-value|Bearer/);
    assert.equal(calls, 1);
  });

  it("percent-encodes OData query values (spaces as %20, never +) and keeps the $ of system query options", async () => {
    let seenUrl = "";
    const url = await rawServer((req, res) => {
      seenUrl = req.url ?? "";
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ value: [] }));
    });
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: url });

    await client.get("/v1.0/users/x/teamwork/installedApps", { $filter: "teamsApp/id eq 'a b'" });

    // fetch's URL parser percent-encodes the quote in a query too.
    assert.equal(seenUrl, "/v1.0/users/x/teamwork/installedApps?$filter=teamsApp%2Fid%20eq%20%27a%20b%27");
  });

  it("times out a request that gets no answer, retries it a bounded number of times, then fails", async () => {
    let calls = 0;
    const url = await rawServer(() => { calls++; /* never answers */ });
    const sleep = sinon.spy(async (_ms: number) => {});
    const client = new GraphClient({ credential, logger: silentLogger(), baseUrl: url, timeoutMs: 50, sleep, retry: { maxAttempts: 2, baseDelayMs: 1 } });

    const error = await client.get("/v1.0/slow").then(() => undefined, (caught: unknown) => caught);

    assert.ok(error instanceof GraphRequestError);
    assert.equal(error.code, "timeout");
    assert.equal(error.status, 0);
    assert.equal(calls, 2);
    assert.equal(sleep.callCount, 1);
  });

  it("parses Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("3", now), 3000);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now), 10_000);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
