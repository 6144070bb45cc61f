/**
 * A stand-in for Microsoft Entra ID on loopback: OpenID metadata and a JWKS with test keys (jose
 * generateKeyPair), and a signer for v1/v2 access tokens. Herald is pointed at `metadataUrl`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

export const TEST_CLIENT_ID = "5b1c2d3e-0000-4000-8000-00000000c11e";
export const TEST_DOMAIN = "herald.test.example";
export const TEST_AUDIENCE = `api://${TEST_DOMAIN}/${TEST_CLIENT_ID}`;

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TokenClaims {
  oid: string;
  tid: string;
  name?: string;
  upn?: string;
  roles?: string[];
  scp?: string;
  [claim: string]: unknown;
}

export interface SignOptions {
  version?: "1.0" | "2.0";
  audience?: string;
  issuer?: string;
  /** Seconds from now; negative = already expired. */
  expiresIn?: number;
  notBefore?: number;
  /** Sign with a key the JWKS does not publish. */
  unpublishedKey?: boolean;
  kid?: string;
}

export class TestEntra {
  /** Requests to the key set (tests check that keys are cached and refetched on rotation). */
  jwksRequests = 0;
  /** While true the metadata answers 503 (an Entra outage). */
  metadataDown = false;
  private keys: SigningKey[] = [];
  private rogue?: SigningKey;

  private constructor(private readonly server: http.Server, readonly origin: string) {}

  static async start(): Promise<TestEntra> {
    let entra: TestEntra | undefined;
    const server = http.createServer((req, res) => entra!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    entra = new TestEntra(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await entra.rotate();
    entra.rogue = await newKey("rogue-key");
    return entra;
  }

  get metadataUrl(): string {
    return `${this.origin}/common/v2.0/.well-known/openid-configuration`;
  }

  /** Publishes a new signing key (kept alongside the old ones) and signs with it from now on. */
  async rotate(): Promise<string> {
    const key = await newKey(`test-key-${this.keys.length + 1}`);
    this.keys.push(key);
    return key.kid;
  }

  async sign(claims: TokenClaims, options: SignOptions = {}): Promise<string> {
    const version = options.version ?? "2.0";
    const key = options.unpublishedKey ? this.rogue! : this.keys[this.keys.length - 1]!;
    const issuer = options.issuer ?? (version === "2.0" ? `https://login.microsoftonline.com/${claims.tid}/v2.0` : `https://sts.windows.net/${claims.tid}/`);
    const now = Math.floor(Date.now() / 1000);
    const { upn, ...rest } = claims;
    const body = {
      ver: version,
      sub: `sub-${claims.oid}`,
      ...(upn ? (version === "2.0" ? { preferred_username: upn } : { upn }) : {}),
      ...rest,
    };
    return new SignJWT(body)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: options.kid ?? key.kid })
      .setIssuer(issuer)
      .setAudience(options.audience ?? TEST_AUDIENCE)
      .setIssuedAt(now - 60)
      .setNotBefore(now + (options.notBefore ?? -60))
      .setExpirationTime(now + (options.expiresIn ?? 3600))
      .sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const json = (body: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/common/v2.0/.well-known/openid-configuration" && this.metadataDown) {
      res.writeHead(503);
      res.end();
    } else if (req.url === "/common/v2.0/.well-known/openid-configuration") {
      json({ issuer: "https://login.microsoftonline.com/{tenantid}/v2.0", jwks_uri: `${this.origin}/common/discovery/v2.0/keys` });
    } else if (req.url === "/common/discovery/v2.0/keys") {
      this.jwksRequests++;
      json({ keys: this.keys.map((k) => k.publicJwk) });
    } else {
      // Not chained: restify (loaded by other tests) patches ServerResponse.writeHead to return nothing.
      res.writeHead(404);
      res.end();
    }
  }
}

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig", alg: "RS256" } };
}
