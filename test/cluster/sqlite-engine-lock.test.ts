/**
 * SQLite stays one process: a second Herald on the same file refuses to start, naming the file and the process
 * that holds it; the lock is the kernel's (released when the holder dies, even by kill -9), not a PID file.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { silentLogger } from "../../src/logger";
import { SqliteStore } from "../../src/store/sqlite";
import { acquireEngineLock, EngineLockedError } from "../../src/store/sqlite/engine-lock";
import { spawnHerald, stopProcess, type HeraldProcess } from "../support/herald-process";

describe("SQLite: one delivery engine per file", function () {
  this.timeout(60_000);
  let dir: string;
  const running: HeraldProcess[] = [];

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-lock-"));
  });
  after(async () => {
    await Promise.all(running.map((p) => stopProcess(p, "SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a second Herald on the same file exits 1 naming the file and the running process's pid", async () => {
    const db = path.join(dir, "shared.db");
    const first = await spawnHerald({ HERALD_STORE: `sqlite:${db}` });
    running.push(first);
    const second = await spawnHerald({ HERALD_STORE: `sqlite:${db}` }).then(
      () => assert.fail("the second Herald started"),
      (error: Error) => error.message,
    );
    assert.match(second, /Herald exited \(1\)/);
    assert.match(second, /Herald cannot start: another Herald process \(pid \d+ on [^,]+, instance [^,]+, since [^)]+\) is running the delivery engine on /);
    assert.ok(second.includes(`pid ${first.child.pid} `), "names the holder's pid");
    assert.ok(second.includes(db), "names the file");
    // The first one is untouched and still sends.
    assert.equal((await first.api("GET", "/api/health/ready")).status, 200);
  });

  it("the lock is released when its holder is killed: a new Herald starts on the file at once", async () => {
    const db = path.join(dir, "killed.db");
    const first = await spawnHerald({ HERALD_STORE: `sqlite:${db}` });
    await stopProcess(first, "SIGKILL");
    const next = await spawnHerald({ HERALD_STORE: `sqlite:${db}` });
    running.push(next);
    assert.equal((await next.api("GET", "/api/health/ready")).status, 200);
  });

  it("in one process: the lock is exclusive while held and free once released; reading the store stays possible", async () => {
    const db = path.join(dir, "inproc.db");
    const holder = new SqliteStore(db, silentLogger());
    const other = new SqliteStore(db, silentLogger());
    try {
      const lock = acquireEngineLock(holder.db, holder.path, "holder-1");
      assert.throws(() => acquireEngineLock(other.db, other.path, "other-1"), (e: Error) => e instanceof EngineLockedError && /instance holder-1/.test(e.message));
      assert.equal((await other.targets.list({}, 10)).items.length, 0, "the CLI can still read");
      lock.release();
      acquireEngineLock(other.db, other.path, "other-1").release();
    } finally {
      await holder.close();
      await other.close();
    }
  });
});
