/**
 * Why installing Herald for one user failed, as typed errors with a stable `code` that callers report per
 * user (API job report, CLI line). Messages say what to do, and carry Graph's request id when there is one.
 */

export type InstallErrorCode =
  | "appNotInCatalog"
  | "userNotFound"
  | "appNotInCatalogOrUserNotFound"
  | "permissionDenied"
  | "installationNotFound"
  | "throttled"
  | "graphUnavailable"
  | "timeout"
  | "authenticationFailed"
  | "invalidUser"
  | "graphError";

export class GraphInstallError extends Error {
  override name = "GraphInstallError";
  constructor(readonly code: InstallErrorCode, message: string, readonly user: string, readonly status?: number, readonly requestId?: string) {
    super(message);
  }
}

/** 404 on install while the user's installed apps can be listed: the catalog has no app with that id. */
export class GraphAppNotInCatalogError extends GraphInstallError {
  override name = "GraphAppNotInCatalogError";
  constructor(user: string, readonly teamsAppId: string, requestId?: string) {
    super("appNotInCatalog",
      `Teams app ${teamsAppId} is not in the tenant's app catalog: publish Herald to the org app catalog and set ` +
      `TEAMS_APP_CATALOG_ID to the catalog id Graph assigned (not the manifest id, unless the app comes from the Teams Store)`,
      user, 404, requestId);
  }
}

/** 404 on install and on listing the user's apps: there is no such user (id or UPN) in the tenant. */
export class GraphUserNotFoundError extends GraphInstallError {
  override name = "GraphUserNotFoundError";
  constructor(user: string, requestId?: string) {
    super("userNotFound", `user ${user} was not found in the tenant (check the object id or UPN)`, user, 404, requestId);
  }
}

/** 403: the app registration lacks the Graph application permission, or admin consent for it. */
export class GraphPermissionError extends GraphInstallError {
  override name = "GraphPermissionError";
  constructor(user: string, graphMessage: string, requestId?: string) {
    super("permissionDenied",
      `Microsoft Graph refused (403${graphMessage ? `: ${graphMessage}` : ""}). The app registration needs the application ` +
      `permission TeamsAppInstallation.ReadWriteSelfForUser.All (or TeamsAppInstallation.ReadWriteForUser.All) with admin consent`,
      user, 403, requestId);
  }
}

/** Installed (201) or already there (409), yet Graph lists no installation of the app for the user. */
export class GraphInstallationNotFoundError extends GraphInstallError {
  override name = "GraphInstallationNotFoundError";
  constructor(user: string, teamsAppId: string, externalAppId: string | undefined) {
    super("installationNotFound",
      `Graph lists no installation of Teams app ${teamsAppId}${externalAppId ? ` (manifest id ${externalAppId})` : ""} for user ${user} ` +
      `although the install was accepted. With TeamsAppInstallation.ReadWriteSelfForUser.All the manifest's webApplicationInfo.id must ` +
      `be the Entra app id that requests the token, otherwise Graph returns an empty list`,
      user);
  }
}
