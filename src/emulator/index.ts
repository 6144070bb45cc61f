/** Public surface of the Teams Bot Connector emulator and activity driver. */
export { ConnectorEmulator } from "./connector-emulator";
export { DEFAULT_MEMBERS_PAGE_SIZE, MAX_MEMBERS_PAGE_SIZE, MIN_MEMBERS_PAGE_SIZE } from "./roster-paging";
export {
  ActivityDriver, DEFAULT_BOT_ID, type ActivityDriverOptions, type ExecuteAction, type InvokeResult, type MessageOptions, type PostResult,
} from "./activity-driver";
export { seedTenant, personalConversationIdFor, deterministicGuid } from "./seed";
export { baseThreadId } from "./faults";
export { toChannelAccount, type TeamsChannelAccount } from "./tenant-directory";
export { localTimestamp, type Activity, type ConversationTarget } from "./teams-activities";
export type * from "./types";
