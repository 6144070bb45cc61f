import { strict as assert } from "node:assert";
import { ConfigurationBotFrameworkAuthentication } from "botbuilder";
import { createCloudAdapter } from "../src/bot/adapter";
import { PUBLIC_CLOUD, US_GOVERNMENT_CLOUD } from "../src/bot/bot-clouds";
import { ConfigError, loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";

const rejects = (env: Record<string, string>, variable: string, message?: RegExp) => {
  assert.throws(() => loadConfig(env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.variable, variable);
    assert.ok(error.message.startsWith(variable));
    if (message) assert.match(error.message, message);
    return true;
  });
};

/** What botbuilder hands its token validation and connector factory (ParameterizedBotFrameworkAuthentication). */
function effectiveSettings(auth: ConfigurationBotFrameworkAuthentication): Record<string, unknown> {
  const inner = (auth as unknown as { inner: Record<string, unknown> }).inner;
  return {
    issuer: inner.toBotFromChannelTokenIssuer, metadata: inner.toBotFromChannelOpenIdMetadataUrl, scope: inner.toChannelFromBotOAuthScope,
    login: inner.toChannelFromBotLoginUrl, callerId: inner.callerId, validateAuthority: inner.validateAuthority,
  };
}

describe("configuration: Bot Framework cloud (botbuilder's names)", () => {
  it("is the public cloud when nothing is set", () => {
    assert.deepEqual(loadConfig({}).botFramework, PUBLIC_CLOUD);
  });

  it("is the US Government cloud (GCC High, DoD) when ChannelService says so", () => {
    assert.deepEqual(loadConfig({ ChannelService: "https://botframework.azure.us" }).botFramework, US_GOVERNMENT_CLOUD);
    assert.equal(US_GOVERNMENT_CLOUD.ToBotFromChannelTokenIssuer, "https://api.botframework.us");
    assert.equal(US_GOVERNMENT_CLOUD.ToChannelFromBotLoginUrl, "https://login.microsoftonline.us/MicrosoftServices.onmicrosoft.us");
  });

  it("overriding one value keeps the chosen cloud's values for the rest", () => {
    const metadata = "http://127.0.0.1:1234/v1/.well-known/openidconfiguration";
    assert.deepEqual(loadConfig({ ToBotFromChannelOpenIdMetadataUrl: metadata }).botFramework, { ...PUBLIC_CLOUD, ToBotFromChannelOpenIdMetadataUrl: metadata });
    assert.deepEqual(
      loadConfig({ ChannelService: "https://botframework.azure.us", OAuthUrl: "https://apiDoD.botframework.azure.us", ValidateAuthority: "false" }).botFramework,
      { ...US_GOVERNMENT_CLOUD, OAuthUrl: "https://apiDoD.botframework.azure.us", ValidateAuthority: false },
    );
  });

  it("botbuilder receives every value — where botbuilder alone leaves all but the overridden one undefined", () => {
    const metadata = "http://127.0.0.1:1234/v1/.well-known/openidconfiguration";
    const plain = effectiveSettings(new ConfigurationBotFrameworkAuthentication({ ToBotFromChannelOpenIdMetadataUrl: metadata }));
    assert.equal(plain.issuer, undefined, "botbuilder's own behaviour, which this configuration exists to avoid");
    assert.equal(plain.scope, undefined);

    const config = loadConfig({ ToBotFromChannelOpenIdMetadataUrl: metadata });
    const adapter = createCloudAdapter(config, silentLogger());
    const herald = effectiveSettings((adapter as unknown as { botFrameworkAuthentication: ConfigurationBotFrameworkAuthentication }).botFrameworkAuthentication);
    assert.deepEqual(herald, {
      issuer: PUBLIC_CLOUD.ToBotFromChannelTokenIssuer, metadata, scope: PUBLIC_CLOUD.ToChannelFromBotOAuthScope,
      login: PUBLIC_CLOUD.ToChannelFromBotLoginUrl, callerId: PUBLIC_CLOUD.CallerId, validateAuthority: true,
    });
  });

  it("a custom ChannelService needs its issuer, metadata, login URL and scope", () => {
    rejects({ ChannelService: "https://botframework.example.cn" }, "ToBotFromChannelTokenIssuer", /required when ChannelService/);
    const full = {
      ChannelService: "https://botframework.example.cn", ToBotFromChannelTokenIssuer: "https://api.botframework.example.cn",
      ToBotFromChannelOpenIdMetadataUrl: "https://login.botframework.example.cn/v1/.well-known/openidconfiguration",
      ToChannelFromBotLoginUrl: "https://login.example.cn/tenant", ToChannelFromBotOAuthScope: "https://api.botframework.example.cn",
    };
    assert.equal(loadConfig(full).botFramework.ToBotFromChannelTokenIssuer, "https://api.botframework.example.cn");
  });

  it("refuses bad values, naming the setting", () => {
    rejects({ ChannelService: "botframework.azure.us" }, "ChannelService");
    rejects({ ValidateAuthority: "yes" }, "ValidateAuthority");
    rejects({ ToBotFromChannelOpenIdMetadataUrl: "not a url" }, "ToBotFromChannelOpenIdMetadataUrl");
    rejects({ ToChannelFromBotLoginUrl: "ftp://login.example.com" }, "ToChannelFromBotLoginUrl");
  });
});

describe("configuration: tenants and API callers", () => {
  it("HERALD_ALLOWED_TENANTS is a lower-cased list; empty means any", () => {
    assert.deepEqual(loadConfig({}).allowedTenants, []);
    assert.deepEqual(loadConfig({ HERALD_ALLOWED_TENANTS: " 72F988BF-86F1-41AF-91AB-2D7CD011DB47, tenant-b ,," }).allowedTenants,
      ["72f988bf-86f1-41af-91ab-2d7cd011db47", "tenant-b"]);
    rejects({ HERALD_ALLOWED_TENANTS: "ok, not ok" }, "HERALD_ALLOWED_TENANTS");
  });

  it("HERALD_API_KEYS names several keys; HERALD_API_KEY stays the key named default", () => {
    const config = loadConfig({ HERALD_API_KEY: "k".repeat(20), HERALD_API_KEYS: "build-pipeline:abcdefghijklmnop0001, hr:abcdefghij:klmnop0002" });
    assert.deepEqual(config.apiKeys, [
      { name: "default", key: "k".repeat(20) },
      { name: "build-pipeline", key: "abcdefghijklmnop0001" },
      { name: "hr", key: "abcdefghij:klmnop0002" },
    ]);
  });

  it("refuses malformed, short or duplicate named keys without echoing a key", () => {
    for (const env of [{ HERALD_API_KEYS: "secret-without-name-000" }, { HERALD_API_KEYS: "ci:short" }, { HERALD_API_KEYS: "ci:abcdefghijklmnop01,ci:abcdefghijklmnop02" }]) {
      assert.throws(() => loadConfig(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.variable, "HERALD_API_KEYS");
        assert.doesNotMatch(error.message, /abcdefghijklmnop|secret-without-name|short/);
        return true;
      });
    }
  });

  it("a deployed Herald may rely on named keys or Entra ID callers instead of HERALD_API_KEY", () => {
    const bot = { BOT_ID: "app", BOT_PASSWORD: "pw" };
    rejects(bot, "HERALD_API_KEY");
    assert.equal(loadConfig({ ...bot, HERALD_API_KEYS: "ci:abcdefghijklmnop01" }).apiKeys.length, 1);
    const entra = loadConfig({ ...bot, BOT_TENANT_ID: "Tenant-A", HERALD_API_AUDIENCE: "api://herald, 5b1c2d3e-0000-4000-8000-00000000c11e" }).entraCallers;
    assert.deepEqual(entra, { audiences: ["api://herald", "5b1c2d3e-0000-4000-8000-00000000c11e"], tenants: ["tenant-a"], authorityHost: "login.microsoftonline.com" });
  });

  it("Entra ID callers are limited to your tenants, and use the cloud's Entra host", () => {
    rejects({ HERALD_API_AUDIENCE: "api://herald" }, "HERALD_API_AUDIENCE", /HERALD_ALLOWED_TENANTS or BOT_TENANT_ID/);
    const gov = loadConfig({ HERALD_API_AUDIENCE: "api://herald", HERALD_ALLOWED_TENANTS: "t1,t2", ChannelService: "https://botframework.azure.us" }).entraCallers;
    assert.deepEqual(gov?.tenants, ["t1", "t2"]);
    assert.equal(gov?.authorityHost, "login.microsoftonline.us");
  });

  it("HERALD_API_RATE_LIMIT is requests per minute per caller (default 120, 0 = off)", () => {
    assert.equal(loadConfig({}).apiRatePerMinute, 120);
    assert.equal(loadConfig({ HERALD_API_RATE_LIMIT: "0" }).apiRatePerMinute, 0);
    rejects({ HERALD_API_RATE_LIMIT: "-1" }, "HERALD_API_RATE_LIMIT");
  });
});
