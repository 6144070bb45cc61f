import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConnectorEmulator } from "../src/emulator/connector-emulator";
import type { SeededTenant, SeededUser } from "../src/emulator/types";
import { silentLogger } from "../src/logger";
import { openStore } from "../src/store/open";
import { targetKey, type HeraldStore } from "../src/store/types";

const ROOT = path.resolve(__dirname, "..");
const TENANT = "tenant-backfill";

/** Runs the CLI in its own process (async: the emulator it talks to lives in this one). */
function herald(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src", "cli", "herald.ts"), ...args], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", reject);
    child.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe("command line: backfill-members", function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;
  let emulator: ConnectorEmulator;
  let tenant: SeededTenant;
  let serviceUrl: string;

  const withStore = async <T>(fn: (store: HeraldStore) => Promise<T>): Promise<T> => {
    const store = await openStore({ kind: "sqlite", path: path.join(dir, "herald.db") }, silentLogger());
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };

  /** A personal install as an earlier Herald stored it: target and member, no UPN. */
  const storeOldInstall = (store: HeraldStore, user: SeededUser) => {
    const key = targetKey(TENANT, user.personalConversationId);
    return store.targets.upsert({
      key, kind: "personal", tenantId: TENANT, conversationId: user.personalConversationId, serviceUrl,
      reference: { serviceUrl, channelId: "msteams", conversation: { id: user.personalConversationId, tenantId: TENANT, conversationType: "personal", isGroup: false, name: "" } },
      userId: user.id, aadObjectId: user.aadObjectId,
    }).then(() => store.members.upsertMembers(key, [{ tenantId: TENANT, userId: user.id, serviceUrl, personalConversationId: user.personalConversationId }]));
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-backfill-"));
    env = { HERALD_STORE: `sqlite:${path.join(dir, "herald.db")}`, BOT_ID: "", HERALD_API_KEY: "" };
    emulator = new ConnectorEmulator();
    serviceUrl = await emulator.start();
    tenant = emulator.seed({ tenantId: TENANT, users: 4 });
    await withStore(async (store) => {
      for (const user of tenant.users.slice(0, 3)) await storeOldInstall(store, user);
    });
  });
  after(async () => {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads each person's UPN once, prints the counts and the reason for each failure; a second run reads nobody", async () => {
    const [a, b, c] = tenant.users;
    // Teams no longer lets Herald read c (e.g. c blocked the bot).
    emulator.addFault({ match: { route: "members", userId: c.id }, status: 403, code: "ConversationBlockedByUser" });

    const first = await herald(["backfill-members"], env);
    assert.equal(first.status, 1, first.stderr);
    assert.match(first.stdout, /3 personal installation\(s\): filled 2, already known 0, failed 1, skipped 0/);
    assert.match(first.stdout, new RegExp(`failed  _${TENANT}_${c.personalConversationId.replace(/[:]/g, ":")}: 403 ConversationBlockedByUser`));
    assert.equal(emulator.stats().byRoute.members, 3);

    await withStore(async (store) => {
      assert.equal((await store.members.find({ upn: a.userPrincipalName.toUpperCase() }, TENANT))?.userId, a.id);
      assert.equal((await store.members.find({ upn: b.userPrincipalName }, TENANT))?.email, b.email);
      assert.equal((await store.members.find({ upn: c.userPrincipalName }, TENANT)), undefined);
    });

    emulator.clearFaults();
    const second = await herald(["backfill-members", "--tenant", TENANT], env);
    assert.equal(second.status, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /3 personal installation\(s\): filled 1, already known 2, failed 0, skipped 0/);
    assert.equal(emulator.stats().byRoute.members, 4, "only the one still missing was read");

    const other = await herald(["backfill-members", "--tenant", "another-tenant"], env);
    assert.match(other.stdout, /0 personal installation\(s\)/);
  });

  it("a bad option is an error that names it", async () => {
    const bad = await herald(["backfill-members", "--concurrency", "0"], env);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--concurrency must be a whole number from 1 to 256/);
  });
});
