/** OpenAPI 3.1 description of Herald's API, served at GET /api/openapi.json. Request schemas come from zod. */
import { z } from "zod";
import { notificationRequestSchema, notificationUpdateSchema } from "../delivery/notification-request";

const error = { $ref: "#/components/schemas/Error" };
const errorResponses = (codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: httpText(c), content: { "application/json": { schema: error } } }]));

function httpText(code: number): string {
  return ({
    400: "Invalid request; the message names the field", 401: "Missing or wrong bearer token", 403: "The token lacks the app role Notifications.Send, or the audience names a tenant outside HERALD_ALLOWED_TENANTS",
    404: "Unknown id", 409: "The notification's state does not allow it (cancelled, retracted, nothing to retry, no Acknowledge button); `error.code` says which", 413: "Body over 256 KB", 415: "Body is not JSON", 429: "Over the caller's rate limit; see Retry-After", 503: "Entra ID's signing keys could not be fetched; see Retry-After",
  } as Record<number, string>)[code] ?? "Error";
}

let cached: object | undefined;

const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };
const notification = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Notification" } } } });

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
      "/api/notifications/{id}": {
        get: { summary: "Status and counts", parameters: [idParam], responses: { "200": notification("The notification"), ...errorResponses([401, 404]) } },
        patch: {
          summary: "Update every copy: new title, text, url or card. Copies not sent yet go out with it; each delivered copy is updated in place (paced like sends) by the partitions' owners; `update` in the report follows them",
          parameters: [idParam],
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/NotificationUpdate" } } } },
          responses: { "202": notification("The new content is stored (contentVersion bumped); the copies are being updated"), ...errorResponses([400, 401, 404, 409, 413, 415]) },
        },
        delete: {
          summary: "Retract: cancel what is not sent yet and delete every delivered copy; `retract` in the report follows it. Repeating it is harmless",
          parameters: [idParam],
          responses: { "202": notification("Recorded; the copies are being deleted"), ...errorResponses([401, 404]) },
        },
      },
      "/api/notifications/{id}/deliveries": { get: { summary: "Per-recipient report, paged", parameters: [idParam, { name: "status", in: "query", schema: { type: "string", enum: ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"] } }, { name: "acknowledged", in: "query", description: "false: delivered and not acknowledged (who has not); true: who has", schema: { type: "boolean" } }, { name: "held", in: "query", description: "true: held for the recipients' working hours, each with dueAt", schema: { type: "boolean" } }, { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000 } }, { name: "cursor", in: "query", schema: { type: "string" } }], responses: { "200": { description: "A page of deliveries", content: { "application/json": { schema: { type: "object", properties: { items: { type: "array", items: { $ref: "#/components/schemas/Delivery" } }, cursor: { type: "string" } } } } } }, ...errorResponses([400, 401, 404]) } } },
      "/api/notifications/{id}/retry": { post: { summary: "Send the failed deliveries again (not gone, skipped or cancelled ones); the notification runs again", parameters: [idParam], responses: { "202": notification("Re-queued; `requeued` says how many"), ...errorResponses([401, 404, 409]) } } },
      "/api/notifications/{id}/remind": {
        post: {
          summary: "Remind those who have not acknowledged: a new notification (kind reminder, parentId) to exactly the recipients whose copy was delivered and not acknowledged",
          parameters: [idParam],
          requestBody: { required: false, content: { "application/json": { schema: { type: "object", additionalProperties: false, properties: { idempotencyKey: { type: "string", maxLength: 200 } } } } } },
          responses: { "202": notification("The reminder (its own id and report)"), ...errorResponses([400, 401, 404, 409, 429]) },
        },
      },
      "/api/notifications/{id}/cancel": { post: { summary: "Cancel what has not been sent yet", parameters: [idParam], responses: { "200": { description: "Cancelled" }, ...errorResponses([401, 404, 409]) } } },
      "/api/targets": { get: { summary: "The registry of installations", parameters: ["kind", "tenantId", "status", "teamId", "limit", "cursor"].map((name) => ({ name, in: "query", schema: { type: "string" } })), responses: { "200": { description: "A page of targets with the total" }, ...errorResponses([400, 401]) } } },
      "/api/people/{id}": { delete: { summary: "Erase what Herald stores about a person (Entra object id, UPN or Teams user id): installation, directory rows, preferences, personal data in past deliveries (counts stay)", parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }, { name: "tenantId", in: "query", schema: { type: "string" } }], responses: { "200": { description: "What was erased" }, ...errorResponses([400, 401, 404]) } } },
      "/api/health": { get: { summary: "200 when the bot and its store are usable", security: [], responses: { "200": { description: "OK" }, "503": { description: "Store unusable" } } } },
      "/api/metrics": {
        get: {
          summary: "Herald's metrics (deliveries, requests, retries, backlog, installs) in Prometheus text format; docs/operations.md names them",
          responses: { "200": { description: "text/plain; version=0.0.4", content: { "text/plain": { schema: { type: "string" } } } }, "401": { description: "Unauthorized" } },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API key (HERALD_API_KEY, HERALD_API_KEYS), or an Entra ID access token for HERALD_API_AUDIENCE carrying the app role Notifications.Send" } },
      schemas: {
        NotificationRequest: z.toJSONSchema(notificationRequestSchema, { io: "input", unrepresentable: "any" }),
        NotificationUpdate: z.toJSONSchema(notificationUpdateSchema, { io: "input", unrepresentable: "any" }),
        Error: { type: "object", required: ["error"], properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" } } } } },
        Notification: {
          type: "object",
          required: ["id", "status", "counts"],
          properties: {
            id: { type: "string" },
            status: { type: "string", enum: ["queued", "running", "completed", "failed", "cancelled"] },
            counts: {
              type: "object",
              properties: {
                ...Object.fromEntries(["total", "sent", "failed", "gone", "skipped", "pending", "cancelled", "throttleRetries"].map((k) => [k, { type: "integer" }])),
                acknowledged: { type: "integer", description: "recipients who pressed Acknowledge" },
                held: { type: "integer", description: "pending deliveries held for the recipients' working hours (list them with ?held=true)" },
              },
            },
            title: { type: "string" }, category: { type: "string" }, triggeredBy: { type: "string" }, createdBy: { type: "string", description: "the API caller: key:<name>, app:<client id>, user:<object id>, local" }, audience: { type: "object" },
            createdAt: { type: "string", format: "date-time" }, startedAt: { type: "string" }, finishedAt: { type: "string" }, created: { type: "boolean" },
            kind: { type: "string", enum: ["reminder"], description: "absent for a notification" }, parentId: { type: "string", description: "the notification a reminder reminds of" },
            acknowledge: { type: "boolean" }, deliverWithin: { type: "object" },
            contentVersion: { type: "integer", description: "1, bumped by every PATCH" },
            update: {
              type: "object", description: "after a PATCH: delivered copies showing `version`, still to update, and those that could not be (their conversation is gone, or the message no longer exists)",
              properties: Object.fromEntries(["version", "updated", "pending", "failed"].map((k) => [k, { type: "integer" }])),
            },
            retract: {
              type: "object", description: "after a DELETE: delivered copies deleted, still to delete, and those that could not be",
              properties: { retractedAt: { type: "string", format: "date-time" }, ...Object.fromEntries(["deleted", "pending", "failed"].map((k) => [k, { type: "integer" }])) },
            },
            requeued: { type: "integer", description: "retry: how many failed deliveries were re-queued" },
          },
        },
        Delivery: {
          type: "object",
          properties: {
            recipientKey: { type: "string" }, status: { type: "string", enum: ["pending", "sending", "sent", "failed", "gone", "skipped", "cancelled"] },
            reason: { type: "string" }, attempts: { type: "integer" }, throttled: { type: "integer" }, activityId: { type: "string" },
            conversationId: { type: ["string", "null"] }, tenantId: { type: "string" }, name: { type: "string" },
            held: { type: "boolean" }, dueAt: { type: "string", format: "date-time", description: "held: when the recipient's working hours open" },
            contentVersion: { type: "integer", description: "the content version the delivered copy shows" },
            copy: { type: "string", enum: ["updating", "deleting", "deleted", "updateFailed", "deleteFailed", "gone"], description: "what happened to the delivered copy since; absent while unchanged" },
            copyReason: { type: "string" }, acknowledgedAt: { type: "string", format: "date-time" }, acknowledgedBy: { type: ["string", "null"] },
            updatedAt: { type: "string", format: "date-time" },
          },
        },
      },
    },
  };
  return cached;
}
