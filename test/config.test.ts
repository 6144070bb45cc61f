import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, ENVIRONMENT, loadCliConfig, loadConfig } from "../src/config";

/** The variables loadConfig reads from `env`, whatever it makes of them. */
function variablesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, { get: (target, name) => (typeof name === "string" && read.add(name), target[name as string]) });
  loadConfig(recording);
  return read;
}

describe("configuration", () => {
  it("has local defaults that need no secrets", () => {
    const config = loadConfig({});
    assert.equal(config.port, 3978);
    assert.equal(config.botId, "");
    assert.equal(config.apiKey, undefined);
    assert.equal(config.store, undefined);
  });

  const rejects = (env: Record<string, string>, variable: string) => {
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && error.variable === variable && error.message.startsWith(variable));
  };

  it("refuses BOT_ID without HERALD_API_KEY", () => rejects({ BOT_ID: "app", BOT_PASSWORD: "pw" }, "HERALD_API_KEY"));
  it("refuses a client-secret bot without BOT_PASSWORD", () => rejects({ BOT_ID: "app", HERALD_API_KEY: "k".repeat(20) }, "BOT_PASSWORD"));
  it("refuses an unknown BOT_TYPE", () => rejects({ BOT_TYPE: "Sometimes" }, "BOT_TYPE"));
  it("refuses a single-tenant bot without BOT_TENANT_ID", () => rejects({ BOT_ID: "a", BOT_TYPE: "UserAssignedMsi", HERALD_API_KEY: "k".repeat(20) }, "BOT_TENANT_ID"));
  it("refuses a non-numeric PORT", () => rejects({ PORT: "eighty" }, "PORT"));
  it("refuses a short HERALD_API_KEY", () => rejects({ HERALD_API_KEY: "short" }, "HERALD_API_KEY"));
  it("refuses an unknown time zone", () => rejects({ HERALD_DEFAULT_TIMEZONE: "Mars/Olympus" }, "HERALD_DEFAULT_TIMEZONE"));

  it("refuses an unknown LOG_LEVEL (pino would throw deep inside start-up)", () => rejects({ LOG_LEVEL: "verbose" }, "LOG_LEVEL"));

  it("reads exactly the variables ENVIRONMENT lists (what npm run validate checks infra/ against)", () => {
    const azureLike = {
      BOT_ID: "00000000-0000-0000-0000-000000000001", BOT_TYPE: "UserAssignedMsi", BOT_TENANT_ID: "t", HERALD_API_KEY: "k".repeat(20),
      HERALD_STORE: "azure-table:https://x.table.core.windows.net", APPLICATIONINSIGHTS_CONNECTION_STRING: "InstrumentationKey=x",
      HERALD_API_AUDIENCE: "api://herald", // Entra callers: their settings are read only then
    };
    const read = new Set([...variablesRead({}), ...variablesRead(azureLike)]);
    assert.deepEqual([...read].sort(), Object.keys(ENVIRONMENT).sort());
  });

  it("the CLI finds the API at HERALD_URL, else on this machine's PORT, and refuses a URL that is not one", () => {
    assert.deepEqual(loadCliConfig({}), { url: "http://127.0.0.1:3978", apiKey: undefined });
    assert.deepEqual(loadCliConfig({ PORT: "4000", HERALD_API_KEY: "k" }), { url: "http://127.0.0.1:4000", apiKey: "k" });
    assert.equal(loadCliConfig({ HERALD_URL: "https://herald.example.com/" }).url, "https://herald.example.com");
    assert.throws(() => loadCliConfig({ HERALD_URL: "herald.example.com" }), (e: unknown) => e instanceof ConfigError && e.variable === "HERALD_URL");
  });

  it("never puts a secret in its messages", () => {
    try {
      loadConfig({ BOT_ID: "app", BOT_PASSWORD: "SuperSecretPassword123", BOT_TYPE: "SingleTenant" });
      assert.fail("should throw");
    } catch (error) {
      assert.doesNotMatch((error as Error).message, /SuperSecretPassword123/);
    }
  });

  it("the process refuses to start, naming the variable, when BOT_ID is set without HERALD_API_KEY", () => {
    const root = path.resolve(__dirname, "..");
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "src", "index.ts")], {
      cwd: root,
      env: { ...process.env, BOT_ID: "00000000-0000-0000-0000-000000000001", BOT_PASSWORD: "pw-not-logged", HERALD_API_KEY: "", PORT: "0", HERALD_STORE: "memory" },
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /HERALD_API_KEY is required when BOT_ID is set/);
    assert.doesNotMatch(result.stderr + result.stdout, /pw-not-logged/);
  });

  it("the process refuses to start on a store it cannot read, naming it, and leaves the file untouched", () => {
    const root = path.resolve(__dirname, "..");
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-corrupt-"));
    try {
      const file = path.join(dir, "herald.db");
      const garbage = Buffer.from("this is not a SQLite database, but it holds someone's installations".repeat(100));
      writeFileSync(file, garbage);
      const result = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "src", "index.ts")], {
        cwd: root,
        env: { ...process.env, BOT_ID: "", HERALD_API_KEY: "", PORT: "0", HERALD_STORE: `sqlite:${file}` },
        encoding: "utf8",
        timeout: 20_000,
      });
      assert.equal(result.status, 1);
      assert.match(result.stdout + result.stderr, /cannot be read/);
      assert.ok((result.stdout + result.stderr).includes(file), "names the file");
      assert.ok(readFileSync(file).equals(garbage), "the file is not replaced");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("secrets never reach the logs or the API's answers", async () => {
    const root = path.resolve(__dirname, "..");
    const secrets = { BOT_PASSWORD: "Bot-Password-Never-Logged-123", HERALD_API_KEY: "Api-Key-Never-Logged-0123456789" };
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src", "index.ts")], {
      cwd: root,
      env: { ...process.env, ...secrets, BOT_ID: "00000000-0000-0000-0000-0000000000aa", PORT: "0", HERALD_STORE: "memory", LOG_LEVEL: "trace" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const line = output.split("\n").find((l) => l.includes("Herald listening"));
          if (line) { clearInterval(timer); resolve(JSON.parse(line).url); }
        }, 50);
        child.once("exit", () => { clearInterval(timer); reject(new Error(output)); });
      });
      const answers = [
        await fetch(`${url}/api/notifications`, { headers: { authorization: `Bearer ${secrets.HERALD_API_KEY}x` } }),
        await fetch(`${url}/api/notifications`, { headers: { authorization: `Bearer ${secrets.HERALD_API_KEY}` } }),
        await fetch(`${url}/api/messages`, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ type: "message", channelId: "msteams", serviceUrl: "https://smba.example/", text: "hi", conversation: { id: "a:1" }, from: { id: "29:1" }, recipient: { id: "28:bot" } }),
        }),
      ];
      assert.deepEqual(answers.map((a) => a.status), [401, 200, 401]);
      const bodies = (await Promise.all(answers.map((a) => a.text()))).join("\n");
      for (const secret of Object.values(secrets)) {
        assert.ok(!bodies.includes(secret), "not in answers");
        assert.ok(!output.includes(secret), "not in logs");
      }
    } finally {
      child.kill("SIGKILL");
    }
  });
});
