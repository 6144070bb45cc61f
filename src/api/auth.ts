import { createHash, timingSafeEqual } from "node:crypto";
import type { Request } from "restify";
import { ApiError } from "./errors";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/**
 * With a key: `Authorization: Bearer <key>`, compared in constant time (hashing both sides first makes the
 * comparison independent of the key's length too). Without a key (local only — config refuses it when BOT_ID
 * is set): loopback callers only.
 */
export function createApiAuth(apiKey: string | undefined): (req: Request) => void {
  if (!apiKey) {
    return (req) => {
      if (!LOOPBACK.has(req.socket.remoteAddress ?? "")) {
        throw new ApiError(401, "unauthorized", "HERALD_API_KEY is not set, so only loopback callers are accepted");
      }
    };
  }
  const expected = createHash("sha256").update(apiKey).digest();
  return (req) => {
    const header = String(req.headers.authorization ?? "");
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const presented = createHash("sha256").update(match ? match[1].trim() : "").digest();
    if (!match || !timingSafeEqual(presented, expected)) {
      throw new ApiError(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <HERALD_API_KEY>)");
    }
  };
}
