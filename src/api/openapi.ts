/** OpenAPI 3.1 description of Herald's API, served at GET /api/openapi.json. Request schemas come from zod. */
import { z } from "zod";
import { notificationRequestSchema } from "../delivery/notification-request";

const error = { $ref: "#/components/schemas/Error" };
const errorResponses = (codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: httpText(c), content: { "application/json": { schema: error } } }]));

function httpText(code: number): string {
  return ({
    400: "Invalid request; the message names the field", 401: "Missing or wrong bearer token", 403: "The token lacks the app role Notifications.Send, or the audience names a tenant outside HERALD_ALLOWED_TENANTS",
    404: "Unknown id", 409: "Not cancellable", 413: "Body over 256 KB", 415: "Body is not JSON", 429: "Over the caller's rate limit; see Retry-After", 503: "Entra ID's signing keys could not be fetched; see Retry-After",
  } as Record<number, string>)[code] ?? "Error";
}

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= {
    openapi: "3.1.0",
    info: { title: "Herald API", version: "1", description: "Send Microsoft Teams notifications to installations, team members, channels and chosen people." },
    security: [{ bearer: [] }],
    paths: {
      "/api/notifications": {
        post: {
          summary: "Create a notification (sending continues in the background)",
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/NotificationRequest" } } } },
          responses: { "202": { description: "Accepted and stored; a repeated idempotencyKey answers with the existing notification (created=false)", content: { "application/json": { schema: { $ref: "#/components/schemas/Notification" } } } }, ...errorResponses([400, 401, 403, 413, 415, 429, 503]) },
        },
        get: {
          summary: "Recent notifications, newest first",
          parameters: [{ name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 200 } }, { name: "cursor", in: "query", schema: { type: "string" } }],
          responses: { "200": { description: "A page", content: { "application/json": { schema: { type: "object", properties: { items: { type: "array", items: { $ref: "#/components/schemas/Notification" } }, cursor: { type: "string" } } } } } }, ...errorResponses([401]) },
        },
      },
      "/api/notification": { post: { summary: "The TeamsFx template's route (every installation), kept for migration", deprecated: true, responses: { "202": { description: "Accepted" } } } },
      "/api/notifications/{id}": { get: { summary: "Status and counts", parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "The notification", content: { "application/json": { schema: { $ref: "#/components/schemas/Notification" } } } }, ...errorResponses([401, 404]) } } },
      "/api/notifications/{id}/deliveries": { get: { summary: "Per-target report, paged", parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }, { name: "status", in: "query", schema: { type: "string", enum: ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"] } }, { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } }, { name: "cursor", in: "query", schema: { type: "string" } }], responses: { "200": { description: "A page of deliveries" }, ...errorResponses([400, 401, 404]) } } },
      "/api/notifications/{id}/cancel": { post: { summary: "Cancel what has not been sent yet", parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "Cancelled" }, ...errorResponses([401, 404, 409]) } } },
      "/api/targets": { get: { summary: "The registry of installations", parameters: ["kind", "tenantId", "status", "teamId", "limit", "cursor"].map((name) => ({ name, in: "query", schema: { type: "string" } })), responses: { "200": { description: "A page of targets with the total" }, ...errorResponses([400, 401]) } } },
      "/api/people/{id}": { delete: { summary: "Erase what Herald stores about a person (Entra object id, UPN or Teams user id): installation, directory rows, preferences, personal data in past deliveries (counts stay)", parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }, { name: "tenantId", in: "query", schema: { type: "string" } }], responses: { "200": { description: "What was erased" }, ...errorResponses([400, 401, 404]) } } },
      "/api/health": { get: { summary: "200 when the bot and its store are usable", security: [], responses: { "200": { description: "OK" }, "503": { description: "Store unusable" } } } },
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API key (HERALD_API_KEY, HERALD_API_KEYS), or an Entra ID access token for HERALD_API_AUDIENCE carrying the app role Notifications.Send" } },
      schemas: {
        NotificationRequest: z.toJSONSchema(notificationRequestSchema, { io: "input", unrepresentable: "any" }),
        Error: { type: "object", required: ["error"], properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } } },
        Notification: {
          type: "object",
          required: ["id", "status", "counts"],
          properties: {
            id: { type: "string" },
            status: { type: "string", enum: ["queued", "running", "completed", "failed", "cancelled"] },
            counts: { type: "object", properties: Object.fromEntries(["total", "sent", "failed", "gone", "skipped", "pending", "cancelled", "throttleRetries"].map((k) => [k, { type: "integer" }])) },
            title: { type: "string" }, category: { type: "string" }, triggeredBy: { type: "string" }, createdBy: { type: "string", description: "the API caller: key:<name>, app:<client id>, user:<object id>, local" }, audience: { type: "object" },
            createdAt: { type: "string", format: "date-time" }, startedAt: { type: "string" }, finishedAt: { type: "string" }, created: { type: "boolean" },
          },
        },
      },
    },
  };
  return cached;
}
