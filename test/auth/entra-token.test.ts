import { strict as assert } from "node:assert";
import sinon from "sinon";
import { EntraTokenValidator, TokenRejectedError, bearerToken, type TokenRejectedReason } from "../../src/auth/entra-token";
import { TEST_AUDIENCE, TEST_CLIENT_ID, TestEntra } from "../support/test-entra";

const TENANT = "0c8a9c6e-1111-4222-8333-0000000000aa";
const OTHER_TENANT = "0c8a9c6e-1111-4222-8333-0000000000bb";
const PERSON = { oid: "7d3b1f62-0000-4000-8000-0000000000a1", tid: TENANT, name: "Alex Wilber", upn: "Alex@Contoso.com", scp: "access_as_user" };

async function rejected(promise: Promise<unknown>, reason: TokenRejectedReason): Promise<TokenRejectedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenRejectedError, `expected TokenRejectedError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail(`expected the token to be rejected (${reason})`);
}

describe("Entra token validator", () => {
  let entra: TestEntra;
  let validator: EntraTokenValidator;

  before(async () => {
    entra = await TestEntra.start();
  });
  after(() => entra.stop());
  beforeEach(() => {
    validator = new EntraTokenValidator({ audiences: [TEST_AUDIENCE, TEST_CLIENT_ID], openIdMetadataUrl: entra.metadataUrl });
  });

  it("accepts a v2 SSO token and returns the person with scopes", async () => {
    const principal = await validator.validate(await entra.sign({ ...PERSON, azp: "1fec8e78-bce4-4aaf-ab1b-5451cc387264" }));
    assert.deepEqual(principal, {
      oid: PERSON.oid, tid: TENANT, appId: "1fec8e78-bce4-4aaf-ab1b-5451cc387264", name: "Alex Wilber", upn: "alex@contoso.com",
      roles: [], scopes: ["access_as_user"], isApp: false,
    });
  });

  it("accepts a v1 token (sts.windows.net issuer, upn, appid) with assigned app roles", async () => {
    const token = await entra.sign({ ...PERSON, roles: ["Herald.Sender"], appid: "5e3ce6c0-2b1f-4285-8d4b-75ee78787346" }, { version: "1.0" });
    const principal = await validator.validate(token);
    assert.equal(principal.upn, "alex@contoso.com");
    assert.equal(principal.appId, "5e3ce6c0-2b1f-4285-8d4b-75ee78787346");
    assert.deepEqual(principal.roles, ["Herald.Sender"]);
    assert.equal(principal.isApp, false);
  });

  it("recognises an app-only token by idtyp, or by no scopes and sub = oid", async () => {
    const appOid = "3f0d0c2b-0000-4000-8000-00000000a999";
    const withIdtyp = await validator.validate(await entra.sign({ oid: appOid, tid: TENANT, roles: ["Notifications.Send"], idtyp: "app", azp: "caller-app" }));
    assert.deepEqual({ isApp: withIdtyp.isApp, roles: withIdtyp.roles, scopes: withIdtyp.scopes }, { isApp: true, roles: ["Notifications.Send"], scopes: [] });
    const bySubject = await validator.validate(await entra.sign({ oid: appOid, tid: TENANT, sub: appOid, roles: ["Notifications.Send"] }));
    assert.equal(bySubject.isApp, true);
  });

  it("accepts the bare client id as audience too, and nothing else", async () => {
    assert.equal((await validator.validate(await entra.sign(PERSON, { audience: TEST_CLIENT_ID }))).oid, PERSON.oid);
    await rejected(validator.validate(await entra.sign(PERSON, { audience: "api://herald.test.example/another-app" })), "wrong_audience");
    await rejected(validator.validate(await entra.sign(PERSON, { audience: "https://graph.microsoft.com" })), "wrong_audience");
  });

  it("rejects an expired token, and one not valid yet, beyond the clock tolerance", async () => {
    await rejected(validator.validate(await entra.sign(PERSON, { expiresIn: -120 })), "expired");
    await rejected(validator.validate(await entra.sign(PERSON, { notBefore: 300 })), "not_yet_valid");
    // Within the 60 s tolerance a slightly skewed clock is fine.
    assert.equal((await validator.validate(await entra.sign(PERSON, { expiresIn: -30 }))).oid, PERSON.oid);
  });

  it("uses the clock it is given", async () => {
    const token = await entra.sign(PERSON, { expiresIn: 3600 });
    const later = new EntraTokenValidator({ audiences: [TEST_AUDIENCE], openIdMetadataUrl: entra.metadataUrl, now: () => new Date(Date.now() + 2 * 3600_000) });
    await rejected(later.validate(token), "expired");
  });

  it("rejects a token signed by a key the tenant does not publish, and a tampered one", async () => {
    await rejected(validator.validate(await entra.sign(PERSON, { unpublishedKey: true, kid: "rogue-key" })), "unknown_key");
    // The published key's kid, the wrong key: the signature does not verify.
    const forged = await entra.sign(PERSON, { unpublishedKey: true, kid: "test-key-1" });
    await rejected(validator.validate(forged), "bad_signature");
    const [header, , signature] = (await entra.sign(PERSON)).split(".");
    const payload = Buffer.from(JSON.stringify({ ...PERSON, aud: TEST_AUDIENCE, iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, exp: 9999999999 })).toString("base64url");
    await rejected(validator.validate(`${header}.${payload}.${signature}`), "bad_signature");
  });

  it("rejects unsigned and HMAC tokens", async () => {
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(PERSON)).toString("base64url")}.`;
    await rejected(validator.validate(none), "malformed");
    const hs = `${Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT", kid: "test-key-1" })).toString("base64url")}.${Buffer.from(JSON.stringify(PERSON)).toString("base64url")}.c2lnbmF0dXJl`;
    await rejected(validator.validate(hs), "algorithm_not_allowed");
    await rejected(validator.validate("not a token"), "malformed");
    await rejected(validator.validate(undefined), "missing_token");
  });

  it("checks the issuer against the token's own tenant and the configured authority", async () => {
    await rejected(validator.validate(await entra.sign(PERSON, { issuer: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` })), "wrong_issuer");
    await rejected(validator.validate(await entra.sign(PERSON, { issuer: `https://evil.example/${TENANT}/v2.0` })), "wrong_issuer");
    const sovereign = new EntraTokenValidator({ audiences: [TEST_AUDIENCE], openIdMetadataUrl: entra.metadataUrl, authorityHost: "login.microsoftonline.us" });
    await rejected(sovereign.validate(await entra.sign(PERSON)), "wrong_issuer");
    const usToken = await entra.sign(PERSON, { issuer: `https://login.microsoftonline.us/${TENANT}/v2.0` });
    assert.equal((await sovereign.validate(usToken)).tid, TENANT);
  });

  it("restricts tenants when a list is configured", async () => {
    const restricted = new EntraTokenValidator({ audiences: [TEST_AUDIENCE], openIdMetadataUrl: entra.metadataUrl, allowedTenants: [TENANT.toUpperCase()] });
    assert.equal((await restricted.validate(await entra.sign(PERSON))).tid, TENANT);
    await rejected(restricted.validate(await entra.sign({ ...PERSON, tid: OTHER_TENANT })), "tenant_not_allowed");
  });

  it("requires oid and tid", async () => {
    await rejected(validator.validate(await entra.sign({ ...PERSON, oid: "" })), "missing_claim");
    await rejected(validator.validate(await entra.sign({ ...PERSON, tid: "" }, { issuer: "https://login.microsoftonline.com//v2.0" })), "missing_claim");
  });

  it("caches the key set and fetches it again when a new key appears (rotation)", async () => {
    const before = entra.jwksRequests;
    await validator.validate(await entra.sign(PERSON));
    await validator.validate(await entra.sign(PERSON));
    assert.equal(entra.jwksRequests - before, 1, "one JWKS fetch for two tokens");
    await entra.rotate();
    // jose refetches on an unknown kid, but at most once per 30 s cooldown.
    const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ["Date"] });
    try {
      clock.tick(31_000);
      assert.equal((await validator.validate(await entra.sign(PERSON))).oid, PERSON.oid);
    } finally {
      clock.restore();
    }
    assert.equal(entra.jwksRequests - before, 2, "an unknown kid refetches the key set");
  });

  it("says the keys are unavailable (not that the token is bad) when the metadata cannot be read, then recovers", async () => {
    entra.metadataDown = true;
    try {
      await rejected(validator.validate(await entra.sign(PERSON)), "keys_unavailable");
    } finally {
      entra.metadataDown = false;
    }
    assert.equal((await validator.validate(await entra.sign(PERSON))).oid, PERSON.oid, "the next call reads the metadata again");
    assert.throws(() => new EntraTokenValidator({ audiences: [TEST_AUDIENCE], openIdMetadataUrl: "http://login.example.com/meta" }), /must be an https URL/);
  });

  it("never puts the token in an error message", async () => {
    const tokens = [await entra.sign(PERSON, { expiresIn: -600 }), await entra.sign(PERSON, { unpublishedKey: true }), await entra.sign(PERSON, { audience: "x" })];
    for (const token of tokens) {
      const error = await validator.validate(token).catch((e: Error) => e);
      assert.ok(error instanceof TokenRejectedError);
      for (const part of token.split(".")) assert.ok(!error.message.includes(part), `message leaks part of the token: ${error.message}`);
      assert.ok(!JSON.stringify(error).includes(token.split(".")[1]!));
    }
  });

  it("reads the bearer token from an Authorization header", () => {
    assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerToken("bearer abc.def.ghi "), "abc.def.ghi");
    assert.equal(bearerToken("Basic dXNlcjpwYXNz"), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
