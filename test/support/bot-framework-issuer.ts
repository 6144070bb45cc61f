/**
 * A stand-in for the Bot Framework token service on loopback: an OpenID configuration and a JWKS whose keys carry
 * channel endorsements (as login.botframework.com's do), and a signer that can also forge — wrong key, unknown
 * kid, `alg: none`, HS256 keyed with the public key. Tokens are built with node:crypto so that every byte of a
 * forgery is under the test's control. Herald is pointed at it with ToBotFromChannelOpenIdMetadataUrl.
 */
import { createHmac, generateKeyPairSync, sign as rsaSign, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export const PUBLIC_ISSUER = "https://api.botframework.com";

interface TestKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  endorsements: string[];
}

export type KeyChoice = "teams" | "notEndorsedForTeams" | "unpublished";

export interface TokenOptions {
  /** Which key signs (default the published, msteams-endorsed one). */
  key?: KeyChoice;
  /** The header's kid (default the signing key's). */
  kid?: string;
  /** "none": no signature; "HS256-public-key": HMAC keyed with the published public key's PEM. */
  alg?: "RS256" | "none" | "HS256-public-key";
}

export class BotFrameworkIssuer {
  metadataRequests = 0;
  /** While not 200, the OpenID configuration answers with this status; 0 = it never answers. */
  metadataStatus = 200;
  private readonly keys: Record<KeyChoice, TestKey>;

  private constructor(private readonly server: http.Server, readonly origin: string) {
    this.keys = {
      teams: newKey("teams-key", ["msteams", "emulator"]),
      notEndorsedForTeams: newKey("webchat-key", ["webchat"]),
      unpublished: newKey("rogue-key", ["msteams"]),
    };
  }

  static async start(): Promise<BotFrameworkIssuer> {
    let issuer: BotFrameworkIssuer | undefined;
    const server = http.createServer((req, res) => issuer!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    issuer = new BotFrameworkIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return issuer;
  }

  /**
   * botbuilder caches metadata per URL for the whole process, so each test that needs a fresh cache asks for
   * its own URL (`variant`).
   */
  metadataUrl(variant = "default"): string {
    return `${this.origin}/${variant}/v1/.well-known/openidconfiguration`;
  }

  kid(key: KeyChoice): string {
    return this.keys[key].kid;
  }

  /** A Bot Framework channel token: iss, aud = the bot's app id, serviceurl, nbf/exp around now. */
  channelToken(claims: { aud: string; serviceurl: string; iss?: string; nbf?: number; exp?: number; [claim: string]: unknown }, options: TokenOptions = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const key = this.keys[options.key ?? "teams"];
    const alg = options.alg ?? "RS256";
    const header = { alg: alg === "HS256-public-key" ? "HS256" : alg, typ: "JWT", kid: options.kid ?? key.kid };
    const payload = { iss: PUBLIC_ISSUER, nbf: now - 60, exp: now + 3600, ...claims };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    let signature = "";
    if (alg === "RS256") signature = rsaSign("sha256", Buffer.from(signingInput), key.privateKey).toString("base64url");
    if (alg === "HS256-public-key") {
      // The classic confusion attack: HMAC keyed with the PEM the verifier holds as the RSA public key.
      const pem = this.keys.teams.publicKey.export({ type: "pkcs1", format: "pem" }).toString();
      signature = createHmac("sha256", pem).update(signingInput).digest("base64url");
    }
    return `${signingInput}.${signature}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? "";
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const variant = url.split("/")[1];
    if (url.endsWith("/v1/.well-known/openidconfiguration")) {
      this.metadataRequests++;
      if (this.metadataStatus === 0) return; // hangs: never answers
      if (this.metadataStatus !== 200) {
        res.writeHead(this.metadataStatus);
        res.end();
        return;
      }
      json({ issuer: PUBLIC_ISSUER, jwks_uri: `${this.origin}/${variant}/v1/.well-known/keys`, id_token_signing_alg_values_supported: ["RS256"] });
    } else if (url.endsWith("/v1/.well-known/keys")) {
      const published = [this.keys.teams, this.keys.notEndorsedForTeams];
      json({
        keys: published.map((k) => ({ ...k.publicKey.export({ format: "jwk" }), kty: "RSA", use: "sig", kid: k.kid, endorsements: k.endorsements })),
      });
    } else {
      res.writeHead(404);
      res.end();
    }
  }
}

function newKey(kid: string, endorsements: string[]): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { kid, privateKey, publicKey, endorsements };
}

function b64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}
