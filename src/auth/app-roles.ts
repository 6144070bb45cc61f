/**
 * The permissions Herald's Entra app declares (aad.manifest.json; `npm run validate` checks they agree):
 * a delegated scope for the tab, an app role for people who send, an app role for applications calling the API.
 */

/** The delegated scope Teams SSO tokens carry for the tab (oauth2Permissions, webApplicationInfo). */
export const TAB_SCOPE = "access_as_user";
/** App role for people: may send from the tab and see every notification's report (or be in HERALD_SENDERS). */
export const SENDER_ROLE = "Herald.Sender";
/** App role for applications that send through the HTTP API with an Entra ID token. */
export const APP_SEND_ROLE = "Notifications.Send";
