import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { ConfigError, loadConfig } from "../src/config";

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
});
