/**
 * The emulator's control plane under /_emulator/…, so a spawned emulator can be seeded, faulted and inspected
 * with curl or from another process. Not counted in stats, never delayed, never rate limited.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConnectorEmulator } from "./connector-emulator";
import { BodyError, errorReply, readJsonBody, splitUrl, writeReply, type Reply } from "./http-util";
import type { FaultRule, KnownConversation, SeededTenant, TenantSpec } from "./types";

export async function handleControl(emulator: ConnectorEmulator, req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
  let reply: Reply;
  try {
    reply = await route(emulator, req, url);
  } catch (err) {
    reply = err instanceof BodyError
      ? errorReply(err.status, err.code, err.message)
      : errorReply(400, "BadArgument", err instanceof Error ? err.message : String(err));
  }
  writeReply(res, reply);
}

async function route(emulator: ConnectorEmulator, req: IncomingMessage, url: string): Promise<Reply> {
  const { path, query } = splitUrl(url);
  const method = req.method ?? "GET";
  const key = `${method} ${path.replace(/\/+$/, "")}`;
  switch (key) {
    case "GET /_emulator/stats":
      return ok(emulator.stats());
    case "GET /_emulator/busiest": {
      // The most requests that arrived within any `ms` window (default 1 s), for one tenant or all.
      const ms = Number(query.get("ms") ?? 1000);
      if (!Number.isFinite(ms) || ms <= 0) return errorReply(400, "BadArgument", "ms must be a positive number of milliseconds.");
      return ok({ ms, busiest: emulator.busiestWindow(ms, query.get("tenantId") ?? undefined) });
    }
    case "GET /_emulator/deliveries": {
      const deliveries = emulator.delivered(query.get("conversationId") ?? undefined);
      return ok({ count: deliveries.length, deliveries });
    }
    case "GET /_emulator/deleted": {
      const deleted = emulator.deleted(query.get("conversationId") ?? undefined);
      return ok({ count: deleted.length, deleted });
    }
    case "GET /_emulator/faults":
      return ok({ faults: emulator.listFaults() });
    case "POST /_emulator/faults": {
      const body = await readJsonBody(req);
      const rules = (Array.isArray(body) ? body : [body]) as FaultRule[];
      return { status: 201, body: { ids: rules.map((r) => emulator.addFault(r)) } };
    }
    case "DELETE /_emulator/faults":
      emulator.clearFaults();
      return ok({ cleared: true });
    case "POST /_emulator/reset":
      emulator.reset();
      return ok({ reset: true });
    case "POST /_emulator/seed": {
      const body = (await readJsonBody(req)) as TenantSpec | SeededTenant | undefined;
      if (!body || typeof body !== "object" || typeof body.tenantId !== "string") {
        return errorReply(400, "BadArgument", "Body must be a tenant spec with a tenantId.");
      }
      return { status: 201, body: emulator.seed(body) };
    }
    case "GET /_emulator/tenants":
      return ok({ tenants: emulator.directory.allTenants() });
    case "POST /_emulator/conversations": {
      const body = (await readJsonBody(req)) as KnownConversation | undefined;
      if (!body || typeof body.id !== "string" || typeof body.tenantId !== "string") {
        return errorReply(400, "BadArgument", "Body must be a conversation with id, tenantId and kind.");
      }
      emulator.registerConversation({ ...body, kind: body.kind ?? "personal" });
      return { status: 201, body: { id: body.id } };
    }
    default: {
      const activity = /^GET \/_emulator\/activities\/([^/]+)$/.exec(key);
      if (activity) {
        const found = emulator.activity(decodeURIComponent(activity[1]));
        return found ? ok(found) : errorReply(404, "NotFound", `No activity ${activity[1]}.`);
      }
      return errorReply(404, "NotFound", `No control route ${key}.`);
    }
  }
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}
