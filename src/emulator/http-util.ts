/** Minimal node:http helpers for the emulator: read a JSON body, write a JSON reply. No framework on the hot path. */
import type { IncomingMessage, ServerResponse } from "node:http";

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export class BodyError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function errorReply(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return { status, body: { error: { code, message } }, headers };
}

/** Resolves with the parsed JSON body, `undefined` for an empty body. */
export function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyError(413, "RequestTooLarge", "Request body too large."));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (size === 0) return resolve(undefined);
      const text = chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8");
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BodyError(400, "BadArgument", "Request body is not valid JSON."));
      }
    });
    req.on("error", reject);
  });
}

export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.writableEnded || res.destroyed) return;
  const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
  const headers: Record<string, string | number> = { "content-length": Buffer.byteLength(payload) };
  if (payload) headers["content-type"] = "application/json; charset=utf-8";
  if (reply.headers) Object.assign(headers, reply.headers);
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** Split "/a/b%3Ac" into decoded segments ["a", "b:c"]; throws BodyError on malformed escapes. */
export function pathSegments(path: string): string[] {
  const raw = path.split("/").filter((s) => s.length > 0);
  try {
    return raw.map((s) => (s.includes("%") ? decodeURIComponent(s) : s));
  } catch {
    throw new BodyError(400, "BadArgument", "Malformed percent-encoding in the path.");
  }
}

export function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const q = url.indexOf("?");
  return q < 0 ? { path: url, query: new URLSearchParams() } : { path: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}
