export { DEFAULT_SQLITE_PATH, SqliteStore } from "./sqlite-store";
export { migrate, SCHEMA_VERSION } from "./schema";
