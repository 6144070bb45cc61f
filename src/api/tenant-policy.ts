/**
 * HERALD_ALLOWED_TENANTS on the sending side: a request may not name a tenant outside the list, whether as
 * `audience.tenantId` or inside a target key (`_${tenantId}_${conversationId}`) among `conversationIds`.
 * Audiences that name no tenant are narrowed by the notification service (deliveries elsewhere are skipped).
 */
import type { Audience } from "../delivery/notification-request";
import { ApiError } from "./errors";

export function assertAudienceTenants(audience: Audience | undefined, allowedTenants: readonly string[]): void {
  if (!audience || allowedTenants.length === 0) return;
  const allowed = new Set(allowedTenants.map((t) => t.toLowerCase()));
  const refuse = (field: string, tenantId: string) => {
    throw new ApiError(403, "tenant_not_allowed", `${field}: tenant ${tenantId} is not in HERALD_ALLOWED_TENANTS`);
  };
  if (audience.tenantId && !allowed.has(audience.tenantId.toLowerCase())) refuse("audience.tenantId", audience.tenantId);
  if (audience.kind === "conversations") {
    for (const id of audience.conversationIds) {
      const tenantId = tenantOfTargetKey(id);
      if (tenantId !== undefined && !allowed.has(tenantId.toLowerCase())) refuse("audience.conversationIds", tenantId);
    }
  }
}

/** The tenant of a target key `_${tenantId}_${conversationId}`; undefined for a bare conversation id. */
export function tenantOfTargetKey(id: string): string | undefined {
  if (!id.startsWith("_")) return undefined;
  const end = id.indexOf("_", 1);
  return end > 1 ? id.slice(1, end) : undefined;
}
