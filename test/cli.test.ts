import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");

function herald(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src", "cli", "herald.ts"), ...args], {
    cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000,
  });
}

describe("command line: npm run herald -- …", function () {
  this.timeout(60_000);
  let dir: string;
  let env: Record<string, string>;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "herald-cli-"));
    env = { HERALD_STORE: `sqlite:${path.join(dir, "herald.db")}`, BOT_ID: "", HERALD_API_KEY: "" };
    const teamsfxFile = {
      "_t1_a:alice": { channelId: "msteams", serviceUrl: "https://smba.example/", bot: { id: "28:b" }, user: { id: "29:alice", name: "Alice", aadObjectId: "aad-alice" }, conversation: { id: "a:alice", conversationType: "personal", tenantId: "t1" } },
      "_t1_19:team@thread.tacv2": { channelId: "msteams", serviceUrl: "https://smba.example/", bot: { id: "28:b" }, conversation: { id: "19:team@thread.tacv2", conversationType: "channel", tenantId: "t1" } },
      "_t1_broken": { channelId: "msteams", conversation: { id: "broken", conversationType: "personal", tenantId: "t1" } },
    };
    writeFileSync(path.join(dir, ".notification.localstore.json"), JSON.stringify(teamsfxFile));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("import-teamsfx imports a TeamsFx store file, reports counts and skips what is malformed; again is a no-op", () => {
    const first = herald(["import-teamsfx", path.join(dir, ".notification.localstore.json")], env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /imported 2, updated 0, unchanged 0, skipped 1/);
    assert.match(first.stdout, /skipped _t1_broken: .*serviceUrl/);
    const second = herald(["import-teamsfx", path.join(dir, ".notification.localstore.json")], env);
    assert.match(second.stdout, /imported 0, updated 0, unchanged 2, skipped 1/);
  });

  it("targets lists the registry with filters, as text and as JSON", () => {
    const text = herald(["targets"], env);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^2 target\(s\)/);
    const json = herald(["targets", "--kind", "personal", "--json"], env);
    const parsed = JSON.parse(json.stdout);
    assert.equal(parsed.total, 1);
    assert.equal(parsed.items[0].aadObjectId, "aad-alice");
  });

  it("a bad filter or command is an error that says what is wrong", () => {
    const bad = herald(["targets", "--kind", "fax"], env);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /kind: must be one of personal, groupChat, channel/);
    const unknown = herald(["frobnicate"], env);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stdout, /unknown command "frobnicate"/);
  });
});
