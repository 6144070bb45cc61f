import type { Request } from "restify";
import { ApiError } from "./errors";

export const MAX_BODY_BYTES = 256 * 1024;

/**
 * Reads a JSON request body with the API's limits: 415 unless the content type is JSON, 413 past 256 KB
 * (without buffering the rest), 400 when it does not parse. An empty body reads as `{}`.
 */
export async function readJsonBody(req: Request, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = String(req.headers["content-type"] ?? "");
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", `Content-Type must be application/json (got "${type || "none"}")`);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new ApiError(400, "invalid_json", `body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "payload_too_large", `body is larger than ${maxBytes / 1024} KB`);
}
