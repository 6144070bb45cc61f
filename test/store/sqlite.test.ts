import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";
import { silentLogger } from "../../src/logger";
import { openStore, parseStoreSpec } from "../../src/store/open";
import { migrate, SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite";
import { StoreUnreadableError, targetKey } from "../../src/store/types";
import { describeStoreContract, targetInput } from "./contract";
import { describeInboxContract } from "./inbox-contract";

const CHILD = join(__dirname, "fixtures", "sqlite-crash-child.ts");

describe("SqliteStore", function () {
  let dir: string;
  let n = 0;
  const freshPath = () => join(dir, `store-${++n}.db`);
  const open = (path: string) => new SqliteStore(path, silentLogger());

  before(() => { dir = mkdtempSync(join(tmpdir(), "herald-sqlite-")); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describeStoreContract("sqlite", async () => open(join(dir, "contract.db")));
  describeInboxContract("sqlite", async () => open(join(dir, "inbox-contract.db")));

  describe("opening", function () {
    it("creates the file in WAL mode at the current schema version", async function () {
      const path = freshPath();
      const store = open(path);
      await store.ping();
      await store.close();
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
        assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      } finally {
        db.close();
      }
    });

    it("defaults to .herald/herald.db under the working directory, creating .herald", async function () {
      const cwd = process.cwd();
      const work = join(dir, "cwd");
      mkdirSync(work);
      process.chdir(work);
      try {
        const store = await openStore(parseStoreSpec(undefined), silentLogger());
        await store.close();
        assert.ok(existsSync(join(work, ".herald", "herald.db")));
      } finally {
        process.chdir(cwd);
      }
    });

    it("keeps everything across close and reopen", async function () {
      const path = freshPath();
      const tenant = "tenant-reopen";
      let store = open(path);
      await store.targets.upsert(targetInput(tenant, "a:1reopen", "personal", { name: "Ada", at: "2026-01-01T00:00:00.000Z" }));
      await store.members.upsertMembers(targetKey(tenant, "19:team@thread.tacv2"), [
        { tenantId: tenant, userId: "29:1ada", aadObjectId: "aad-ada", upn: "Ada@Contoso.com", serviceUrl: "https://smba.example/" },
      ]);
      await store.jobs.createJob(
        { id: "job-reopen", idempotencyKey: "k-reopen", status: "running", content: { title: "t", text: "x" }, audience: {}, triggeredBy: "api", createdAt: "2026-01-01T00:00:00.000Z" },
        [{ recipientKey: targetKey(tenant, "a:1reopen"), recipient: { tenantId: tenant, serviceUrl: "https://smba.example/", conversationId: "a:1reopen" } }],
      );
      await store.preferences.optOut(tenant, "aad-ada", "digest");
      await store.schedules.claimSlot("daily", "2026-01-01T09:00:00.000Z|UTC");
      await store.close();

      store = open(path);
      try {
        assert.equal((await store.targets.get(targetKey(tenant, "a:1reopen")))?.name, "Ada");
        assert.equal((await store.members.find({ upn: "ada@contoso.com" }))?.userId, "29:1ada");
        assert.equal(await store.members.countBySource(targetKey(tenant, "19:team@thread.tacv2")), 1);
        assert.equal((await store.jobs.findByIdempotencyKey("k-reopen"))?.id, "job-reopen");
        assert.deepEqual((await store.jobs.listUnfinishedJobs()).map((j) => j.id), ["job-reopen"]);
        assert.equal((await store.jobs.counts("job-reopen")).pending, 1);
        assert.equal(await store.preferences.isOptedOut(tenant, ["aad-ada"], "digest"), true);
        assert.equal(await store.schedules.claimSlot("daily", "2026-01-01T09:00:00.000Z|UTC"), false);
        assert.equal((await store.schedules.lastSlot("daily"))?.slot, "2026-01-01T09:00:00.000Z|UTC");
      } finally {
        await store.close();
      }
    });

    it("migrations are idempotent: reopening and re-running them changes nothing", async function () {
      const path = freshPath();
      const store = open(path);
      await store.targets.upsert(targetInput("t-mig", "a:1mig", "personal"));
      await store.close();
      const schemaOf = (db: Database.Database) => db.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY name").all();
      const db = new Database(path);
      try {
        const schemaBefore = schemaOf(db);
        assert.equal(migrate(db), SCHEMA_VERSION);
        assert.equal(migrate(db), SCHEMA_VERSION);
        assert.deepEqual(schemaOf(db), schemaBefore);
        assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
      } finally {
        db.close();
      }
      const again = open(path);
      assert.equal(await again.targets.count({ tenantId: "t-mig" }), 1);
      await again.close();
    });

    it("migrates an empty (0-byte) file", async function () {
      const path = freshPath();
      writeFileSync(path, "");
      const store = open(path);
      assert.equal(await store.targets.count({}), 0);
      await store.close();
    });

    it("refuses a database written by a newer Herald (higher user_version)", function () {
      const path = freshPath();
      open(path).close();
      const db = new Database(path);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.close();
      assert.throws(() => open(path), (error: Error) => {
        assert.ok(error instanceof StoreUnreadableError);
        assert.match(error.message, /newer/);
        return true;
      });
    });
  });

  describe("an unreadable file is refused and left untouched", function () {
    async function expectRefused(path: string): Promise<void> {
      const before = readFileSync(path);
      const sidecars = [`${path}-wal`, `${path}-shm`].filter(existsSync);
      await assert.rejects(openStore(parseStoreSpec(`sqlite:${path}`), silentLogger()), (error: Error) => {
        assert.ok(error instanceof StoreUnreadableError, `${error.name}: ${error.message}`);
        assert.equal(error.location, resolve(path));
        assert.ok(error.message.includes(resolve(path)), "the message names the file");
        assert.match(error.message, /Refusing to start/);
        return true;
      });
      assert.ok(readFileSync(path).equals(before), "the file is byte-for-byte unchanged");
      assert.deepEqual([`${path}-wal`, `${path}-shm`].filter(existsSync), sidecars, "no journal files appear");
    }

    it("garbage bytes", async function () {
      const path = freshPath();
      writeFileSync(path, randomBytes(64 * 1024));
      await expectRefused(path);
    });

    it("a text file that is not a database", async function () {
      const path = freshPath();
      writeFileSync(path, JSON.stringify({ _tenant_conv: { conversation: { id: "conv" } } }));
      await expectRefused(path);
    });

    it("a SQLite header followed by corrupted pages", async function () {
      const path = freshPath();
      const store = open(path);
      for (let i = 0; i < 2000; i++) await store.targets.upsert(targetInput("t-corrupt", `a:1c${i}`, "personal"));
      await store.close();
      const bytes = readFileSync(path);
      assert.ok(bytes.length > 8 * 4096);
      randomBytes(16 * 1024).copy(bytes, 4096); // pages 2..5: schema and index b-tree pages
      writeFileSync(path, bytes);
      await expectRefused(path);
    });

    it("a truncated database", async function () {
      const path = freshPath();
      const store = open(path);
      for (let i = 0; i < 2000; i++) await store.targets.upsert(targetInput("t-trunc", `a:1t${i}`, "personal"));
      await store.close();
      truncateSync(path, Math.floor(statSync(path).size / 3));
      await expectRefused(path);
    });

    it("a directory where the file should be", async function () {
      const path = freshPath();
      mkdirSync(path);
      assert.throws(() => open(path), (error: Error) => error instanceof StoreUnreadableError && error.message.includes(path));
      assert.ok(statSync(path).isDirectory());
    });
  });

  describe("crash safety (SIGKILL mid-write)", function () {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });

    /** Starts the child and resolves with each stdout line as it arrives. */
    function startChild(path: string, mode: "hang" | "loop") {
      const child = spawn(process.execPath, ["--import", "tsx", CHILD, path, mode], {
        cwd: resolve(__dirname, "../.."),
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      const lines: string[] = [];
      let waiting: { predicate: (l: string) => boolean; resolve: () => void } | undefined;
      let buffer = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          lines.push(line);
          if (waiting?.predicate(line)) waiting.resolve();
        }
      });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      const waitFor = (predicate: (l: string) => boolean) =>
        new Promise<void>((done, fail) => {
          if (lines.some(predicate)) return done();
          waiting = { predicate, resolve: done };
          void exited.then(() => fail(new Error(`child exited early; output: ${lines.join(" | ")}`)));
        });
      const kill = async () => {
        child.kill("SIGKILL");
        await exited;
        assert.equal(child.signalCode, "SIGKILL");
      };
      return { lines, waitFor, kill };
    }

    it("a job killed inside its transaction is absent after reopen; committed data is intact", async function () {
      this.timeout(60_000);
      const path = freshPath();
      const child = startChild(path, "hang");
      await child.waitFor((l) => l === "mid");
      // The uncommitted rows already spilled to the WAL on disk: the kill really interrupts a big write.
      assert.ok(statSync(`${path}-wal`).size > 1024 * 1024, "uncommitted pages reached the WAL");
      await child.kill();

      const store = open(path); // runs quick_check; throws if the file were damaged
      try {
        assert.equal(await store.jobs.getJob("doomed"), undefined);
        assert.deepEqual(await store.jobs.counts("doomed"), { total: 0, pending: 0, sending: 0, sent: 0, failed: 0, gone: 0, skipped: 0, cancelled: 0 });
        assert.equal((await store.jobs.getJob("committed"))?.total, 1000);
        assert.equal((await store.jobs.counts("committed")).pending, 1000);
      } finally {
        await store.close();
      }
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma("quick_check", { simple: true }), "ok");
      } finally {
        db.close();
      }
    });

    it("killed at an arbitrary moment in a stream of 20,000-delivery jobs: each job is all there or not at all", async function () {
      this.timeout(60_000);
      const path = freshPath();
      const child = startChild(path, "loop");
      await child.waitFor((l) => l === "committed loop-1");
      await new Promise((r) => setTimeout(r, Math.random() * 150)); // land somewhere inside a later transaction
      await child.kill();
      const committed = child.lines.filter((l) => l.startsWith("committed ")).map((l) => l.slice("committed ".length));

      const store = open(path);
      try {
        const jobs: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.jobs.listJobs(100, cursor);
          jobs.push(...page.items.map((j) => j.id));
          cursor = page.cursor;
        } while (cursor);
        for (const id of committed) assert.ok(jobs.includes(id), `committed job ${id} survived`);
        assert.ok(jobs.length <= committed.length + 1, "at most the job in flight beyond what was reported");
        for (const id of jobs) {
          const job = await store.jobs.getJob(id);
          const counts = await store.jobs.counts(id);
          assert.equal(job?.total, 20_000, id);
          assert.equal(counts.total, 20_000, `${id}: every delivery or none`);
        }
      } finally {
        await store.close();
      }
    });
  });
});
