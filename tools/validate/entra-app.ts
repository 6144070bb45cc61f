import * as fs from "node:fs";
import * as path from "node:path";
import { APP_SEND_ROLE, SENDER_ROLE, TAB_SCOPE } from "../../src/auth/app-roles";
import { LIFECYCLES, readTeamsappYaml, stepsOf, teamsappYamlFiles } from "../lib/teamsapp-yaml";
import { MANIFEST_FILE } from "./manifest";
import type { Problem } from "./problem";

export const AAD_MANIFEST_FILE = "aad.manifest.json";

/** Teams' own clients must be pre-authorized for the tab's scope, or Teams SSO asks for consent or fails. */
export const TEAMS_CLIENT_IDS = {
  "Teams desktop and mobile": "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
  "Teams web": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface AadManifest {
  appId?: string;
  identifierUris?: string[];
  oauth2Permissions?: Array<{ id?: string; value?: string; type?: string; isEnabled?: boolean }>;
  preAuthorizedApplications?: Array<{ appId?: string; permissionIds?: string[] }>;
  appRoles?: Array<{ id?: string; value?: string; allowedMemberTypes?: string[]; isEnabled?: boolean }>;
}

/**
 * The tab's Entra app: aad.manifest.json declares what Herald's code checks (the access_as_user scope, the
 * Herald.Sender and Notifications.Send app roles), pre-authorizes the Teams clients, exposes the very resource
 * the Teams manifest's webApplicationInfo names, and every teamsapp*.yml that provisions the Teams app creates
 * and updates it.
 */
export function checkEntraApp(root: string): Problem[] {
  const problems: Problem[] = [];
  const problem = (message: string, file = AAD_MANIFEST_FILE) => problems.push({ file, message });
  const file = path.join(root, AAD_MANIFEST_FILE);
  if (!fs.existsSync(file)) return [{ file: AAD_MANIFEST_FILE, message: "file not found (the tab's single sign-on needs it)" }];
  let aad: AadManifest;
  try {
    aad = JSON.parse(fs.readFileSync(file, "utf8")) as AadManifest;
  } catch (error) {
    return [{ file: AAD_MANIFEST_FILE, message: `is not valid JSON: ${(error as Error).message}` }];
  }

  const scope = aad.oauth2Permissions?.find((p) => p.value === TAB_SCOPE);
  if (!scope?.id) problem(`oauth2Permissions declares no '${TAB_SCOPE}' scope with an id`);
  else if (scope.isEnabled === false || scope.type !== "User") problem(`the '${TAB_SCOPE}' scope must be enabled and of type User`);

  for (const [name, clientId] of Object.entries(TEAMS_CLIENT_IDS)) {
    const entry = aad.preAuthorizedApplications?.find((a) => a.appId === clientId);
    if (!entry) problem(`preAuthorizedApplications does not list ${name} (${clientId})`);
    else if (scope?.id && !entry.permissionIds?.includes(scope.id)) problem(`${name} (${clientId}) is not pre-authorized for the '${TAB_SCOPE}' scope`);
  }

  const roles = aad.appRoles ?? [];
  for (const [value, memberType] of [[SENDER_ROLE, "User"], [APP_SEND_ROLE, "Application"]] as const) {
    const role = roles.find((r) => r.value === value);
    if (!role) problem(`appRoles does not declare '${value}', which Herald checks`);
    else if (!role.allowedMemberTypes?.includes(memberType) || role.isEnabled === false) problem(`app role '${value}' must be enabled for ${memberType} members`);
  }
  const ids = roles.map((r) => r.id ?? "");
  for (const id of ids) if (!GUID.test(id)) problem(`app role id '${id}' is not a GUID`);
  if (new Set(ids).size !== ids.length) problem("two app roles share an id");

  const manifestFile = path.join(root, MANIFEST_FILE);
  if (fs.existsSync(manifestFile)) {
    const info = (JSON.parse(fs.readFileSync(manifestFile, "utf8")) as { webApplicationInfo?: { id?: string; resource?: string } }).webApplicationInfo;
    if (!info) problem("has no webApplicationInfo: Teams cannot give the tab a sign-in token", MANIFEST_FILE);
    else {
      if (info.id !== aad.appId) problem(`webApplicationInfo.id (${info.id}) is not the Entra app's appId (${aad.appId}) in ${AAD_MANIFEST_FILE}`, MANIFEST_FILE);
      if (!info.resource || !aad.identifierUris?.includes(info.resource)) {
        problem(`webApplicationInfo.resource (${info.resource}) is not among the identifierUris of ${AAD_MANIFEST_FILE}`, MANIFEST_FILE);
      }
    }
  }

  for (const yml of teamsappYamlFiles(root)) {
    const data = readTeamsappYaml(root, yml).data;
    const provision = stepsOf(data, "provision");
    if (!provision.some((step) => step.uses === "teamsApp/create")) continue;
    const create = provision.findIndex((step) => step.uses === "aadApp/create");
    const update = provision.findIndex((step) => step.uses === "aadApp/update");
    if (create < 0) problem("provision has no aadApp/create step: the tab's Entra app is never created", yml);
    if (update < 0) problem(`provision has no aadApp/update step applying ${AAD_MANIFEST_FILE}`, yml);
    if (create >= 0 && update >= 0 && update < create) problem("aadApp/update runs before aadApp/create", yml);
    const manifestPath = (provision[update]?.with as { manifestPath?: unknown } | undefined)?.manifestPath;
    if (update >= 0 && path.posix.normalize(String(manifestPath)) !== AAD_MANIFEST_FILE) problem(`aadApp/update applies ${String(manifestPath)}, not ./${AAD_MANIFEST_FILE}`, yml);
    if (LIFECYCLES.some((l) => l !== "provision" && stepsOf(data, l).some((s) => s.uses === "aadApp/create"))) problem("aadApp/create belongs in provision", yml);
  }
  return problems;
}
