import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { createLogger, silentLogger } from "../../src/logger";
import { openStore, parseStoreSpec, redactStoreValue } from "../../src/store/open";
import { startAzurite, type AzuriteTable } from "../support/azurite";

describe("parseStoreSpec (HERALD_STORE)", function () {
  it("defaults to SQLite at .herald/herald.db when unset or blank", function () {
    for (const value of [undefined, "", "   "]) {
      assert.deepEqual(parseStoreSpec(value), { kind: "sqlite", path: ".herald/herald.db" });
    }
  });

  it("accepts memory", function () {
    assert.deepEqual(parseStoreSpec("memory"), { kind: "memory" });
    assert.deepEqual(parseStoreSpec(" Memory "), { kind: "memory" });
  });

  it("accepts sqlite:<path> and bare .db / .sqlite paths", function () {
    assert.deepEqual(parseStoreSpec("sqlite:./data/herald.db"), { kind: "sqlite", path: "./data/herald.db" });
    assert.deepEqual(parseStoreSpec("sqlite:/var/lib/herald/store"), { kind: "sqlite", path: "/var/lib/herald/store" });
    assert.deepEqual(parseStoreSpec("data/herald.db"), { kind: "sqlite", path: "data/herald.db" });
    assert.deepEqual(parseStoreSpec("/srv/herald.sqlite"), { kind: "sqlite", path: "/srv/herald.sqlite" });
    assert.deepEqual(parseStoreSpec("C:\\herald\\herald.sqlite3"), { kind: "sqlite", path: "C:\\herald\\herald.sqlite3" });
  });

  it("accepts azure-table:<connection string> with the table prefix", function () {
    assert.deepEqual(parseStoreSpec("azure-table:UseDevelopmentStorage=true"), {
      kind: "azure-table", connectionString: "UseDevelopmentStorage=true", tablePrefix: "herald",
    });
    const full = "DefaultEndpointsProtocol=https;AccountName=heraldprod;AccountKey=c2VjcmV0==;EndpointSuffix=core.windows.net";
    assert.deepEqual(parseStoreSpec(`azure-table:${full}`, "heraldtest"), {
      kind: "azure-table", connectionString: full, tablePrefix: "heraldtest",
    });
    const azurite = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;";
    assert.equal(parseStoreSpec(`azure-table:${azurite}`).kind, "azure-table");
  });

  it("accepts azure-table:https://<account>.table.core.windows.net for managed identity", function () {
    assert.deepEqual(parseStoreSpec("azure-table:https://heraldprod.table.core.windows.net/"), {
      kind: "azure-table", accountUrl: "https://heraldprod.table.core.windows.net", tablePrefix: "herald",
    });
  });

  it("rejects anything else with an error naming HERALD_STORE and the accepted forms", function () {
    const bad = [
      "memroy", "sqlite", "sqlite:", "sqlte:data.db", "postgres://db/herald", "herald.json", "azure-table:",
      "azure-table:http://heraldprod.table.core.windows.net", "azure-table:garbage", "azure-table:Foo=bar",
      "azure-table:https://user:pass@heraldprod.table.core.windows.net", "azure-table:https://x.table.core.windows.net/?sig=abc",
    ];
    for (const value of bad) {
      assert.throws(() => parseStoreSpec(value), (error: Error) => {
        assert.match(error.message, /HERALD_STORE/, value);
        assert.match(error.message, /memory/, value);
        assert.match(error.message, /sqlite:<path>/, value);
        assert.match(error.message, /azure-table:UseDevelopmentStorage=true/, value);
        assert.match(error.message, /azure-table:https:\/\/<account>\.table\.core\.windows\.net/, value);
        return true;
      });
    }
  });

  it("never echoes an account key, SAS signature or password back in the error", function () {
    const values = [
      "azure-table:DefaultEndpointsProtocol=https;AccountKey=TOPSECRET-9==;EndpointSuffix=core.windows.net",
      "azure-table:SharedAccessSignature=sv=2020&sig=TOPSECRET-9;Bogus",
      "azure-table:https://heraldprod.table.core.windows.net/?sv=1&sig=TOPSECRET-9",
      "azure-table:https://admin:TOPSECRET-9@heraldprod.table.core.windows.net",
    ];
    for (const value of values) {
      assert.throws(() => parseStoreSpec(value), (error: Error) => {
        assert.doesNotMatch(error.message, /TOPSECRET-9/, value);
        return true;
      });
    }
    assert.equal(redactStoreValue("AccountName=a;AccountKey=abc/def+==;X=y"), "AccountName=a;AccountKey=[redacted];X=y");
  });
});

describe("openStore", function () {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "herald-open-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("opens a memory store", async function () {
    const store = await openStore({ kind: "memory" }, silentLogger());
    assert.equal(store.kind, "memory");
    await store.ping();
    await store.close();
  });

  it("opens a SQLite store, creating missing directories, and keeps data across reopen", async function () {
    const path = join(dir, "nested", "deeper", "herald.db");
    const spec = parseStoreSpec(`sqlite:${path}`);
    const store = await openStore(spec, silentLogger());
    assert.equal(store.kind, "sqlite");
    assert.ok(existsSync(path));
    await store.schedules.claimSlot("daily", "slot-1");
    await store.close();
    const again = await openStore(spec, silentLogger());
    assert.equal(await again.schedules.claimSlot("daily", "slot-1"), false);
    await again.close();
  });
});

describe("openStore azure-table (Azurite)", function () {
  let azurite: AzuriteTable | undefined;
  before(async function () {
    this.timeout(60_000);
    azurite = await startAzurite();
  });
  after(async () => { await azurite?.stop(); });

  it("loads the Azure backend from a HERALD_STORE connection string and never logs the key", async function () {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const logger = createLogger({ level: "debug", destination: sink });
    const prefix = `h${randomUUID().replace(/-/g, "").slice(0, 10)}`;
    const store = await openStore(parseStoreSpec(`azure-table:${azurite!.connectionString}`, prefix), logger);
    try {
      assert.equal(store.kind, "azure-table");
      await store.ping();
      assert.equal(await store.schedules.claimSlot("daily", "slot-1"), true);
      assert.equal(await store.schedules.claimSlot("daily", "slot-1"), false);
    } finally {
      await store.close();
    }
    const key = /AccountKey=([^;]+)/.exec(azurite!.connectionString)![1]!;
    assert.ok(lines.length > 0, "opening is logged");
    for (const line of lines) assert.ok(!line.includes(key), `log line carries the account key: ${line}`);
  });
});
