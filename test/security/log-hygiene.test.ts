import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { createLogger } from "../../src/logger";
import { startAzurite, type AzuriteTable } from "../support/azurite";
import { BotFrameworkIssuer } from "../support/bot-framework-issuer";
import { TEST_AUDIENCE, TestEntra } from "../support/test-entra";
import { Writable } from "node:stream";

const ROOT = path.resolve(__dirname, "..", "..");
const BOT_ID = "00000000-0000-4000-8000-00000000b075";

/**
 * A real Herald process at LOG_LEVEL=trace, with its secrets in the environment and a caller throwing keys,
 * bearer tokens and a connection string at it. Everything it writes (stdout and stderr, botbuilder's console
 * output included) and every answer is searched for each secret.
 */
describe("log hygiene: no key, bearer token or connection string reaches the log", function () {
  this.timeout(120_000);
  let azurite: AzuriteTable;
  let issuer: BotFrameworkIssuer;
  let entra: TestEntra;

  before(async function () {
    this.timeout(60_000);
    [azurite, issuer, entra] = await Promise.all([startAzurite({ blob: true }), BotFrameworkIssuer.start(), TestEntra.start()]);
  });
  after(async () => {
    await Promise.all([azurite?.stop(), issuer?.stop(), entra?.stop()]);
  });

  it("a running Herald refuses keys, tokens and a connection string in requests and logs none of them", async () => {
    const secrets = {
      botPassword: "Bot-Password-Hygiene-0123456789",
      apiKey: "Api-Key-Hygiene-0123456789abcdef",
      namedKey: "Named-Key-Hygiene-0123456789abcdef",
      connectionString: azurite.connectionString,
      accountKey: /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!,
      botToken: issuer.channelToken({ aud: BOT_ID, serviceurl: "https://smba.example/amer/" }, { key: "unpublished", kid: issuer.kid("teams") }),
      entraToken: await entra.sign({ oid: "sp-1", tid: "tenant-contoso", azp: "app-1", idtyp: "app", roles: ["Something.Else"] }),
    };
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src", "index.ts")], {
      cwd: ROOT,
      env: {
        ...process.env, PORT: "0", LOG_LEVEL: "trace",
        BOT_ID, BOT_PASSWORD: secrets.botPassword, HERALD_API_KEY: secrets.apiKey, HERALD_API_KEYS: `pipeline:${secrets.namedKey}`,
        HERALD_STORE: `azure-table:${secrets.connectionString}`, HERALD_TABLE_PREFIX: `hy${randomUUID().replace(/-/g, "").slice(0, 10)}`,
        ToBotFromChannelOpenIdMetadataUrl: issuer.metadataUrl("hygiene"),
        HERALD_API_AUDIENCE: TEST_AUDIENCE, HERALD_API_OPENID_METADATA_URL: entra.metadataUrl, HERALD_ALLOWED_TENANTS: "tenant-contoso",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const line = output.split("\n").find((l) => l.includes("Herald listening"));
          if (line) { clearInterval(timer); resolve(JSON.parse(line).url); }
        }, 50);
        child.once("exit", () => { clearInterval(timer); reject(new Error(`Herald exited: ${output}`)); });
      });
      const json = { "content-type": "application/json" };
      const activity = {
        type: "message", id: "1", channelId: "msteams", serviceUrl: "https://smba.example/amer/", from: { id: "29:1" }, recipient: { id: `28:${BOT_ID}` },
        conversation: { id: "a:1", conversationType: "personal", tenantId: "tenant-contoso" },
      };
      const requests: Array<[string, RequestInit, number]> = [
        ["/api/notifications", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.apiKey}x` }, body: JSON.stringify({ title: "t", text: "x" }) }, 401],
        ["/api/notifications", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.namedKey}` }, body: JSON.stringify({ title: "t", text: "x" }) }, 202],
        [`/api/notifications?code=${encodeURIComponent(secrets.apiKey)}`, { method: "GET" }, 401],
        ["/api/notifications", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.entraToken}` }, body: JSON.stringify({ title: "t", text: "x" }) }, 403],
        ["/api/notifications", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.connectionString}` }, body: JSON.stringify({ title: "t", text: secrets.connectionString }) }, 401],
        ["/api/notifications", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.apiKey}` }, body: `{"title": "${secrets.connectionString}"` }, 400],
        ["/api/messages", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.botToken}` }, body: JSON.stringify(activity) }, 401],
        ["/api/messages", { method: "POST", headers: { ...json, authorization: `Bearer ${secrets.botPassword}` }, body: JSON.stringify(activity) }, 401],
      ];
      const answers: string[] = [];
      for (const [route, init, status] of requests) {
        const res = await fetch(`${url}${route}`, init);
        answers.push(await res.text());
        assert.equal(res.status, status, `${init.method} ${route}: ${answers.at(-1)}`);
      }
      child.kill("SIGTERM");
      await exited;

      // The refusals were logged (so the search below is over a log that says something)...
      assert.match(output, /API request refused/);
      assert.match(output, /activity rejected: authentication/);
      assert.match(output, /invalid signature/, "the reason is there");
      // ...and no secret is in it, or in any answer.
      for (const [name, secret] of Object.entries(secrets)) {
        assert.ok(!output.includes(secret), `${name} is in the log`);
        assert.ok(!answers.join("\n").includes(secret), `${name} is in an answer`);
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("the logger redacts credentials wherever they sit in a logged object", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "trace", destination: new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } }) });
    const secret = "Very-Secret-Value-0123456789";
    logger.info({
      req: { method: "POST", url: "/api/notifications", headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" } },
      config: { apiKey: secret, store: `azure-table:AccountKey=${secret}` },
      store: { connectionString: `DefaultEndpointsProtocol=https;AccountKey=${secret}` },
      credentials: { password: secret, secret, apiKey: secret },
    }, "a request");
    const text = lines.join("");
    assert.ok(text.includes("a request") && text.includes("[redacted]"));
    assert.ok(!text.includes(secret), text);
  });
});
