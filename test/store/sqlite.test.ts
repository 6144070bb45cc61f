import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";
import { describeStoreContract } from "./contract";

describe("SqliteStore", function () {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), "herald-sqlite-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describeStoreContract("sqlite", async () => new SqliteStore(join(dir, "contract.db"), silentLogger()));
});
