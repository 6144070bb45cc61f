/** A person's record in Herald's member directory, from the roster entry Teams returns for them. */
import type { MemberInput } from "../store/types";

/** The fields of botbuilder's TeamsChannelAccount that Herald keeps. */
export interface RosterAccount {
  id: string;
  name?: string;
  aadObjectId?: string;
  userPrincipalName?: string;
  email?: string;
}

/** UPN and e-mail are lower-cased: `users` audiences match them case-insensitively. */
export function memberFromAccount(m: RosterAccount, tenantId: string, serviceUrl: string): MemberInput {
  return {
    tenantId,
    userId: m.id,
    serviceUrl,
    ...(m.aadObjectId ? { aadObjectId: m.aadObjectId } : {}),
    ...(m.userPrincipalName ? { upn: m.userPrincipalName.toLowerCase() } : {}),
    ...(m.email ? { email: m.email.toLowerCase() } : {}),
    ...(m.name ? { name: m.name } : {}),
  };
}
