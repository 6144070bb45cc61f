/** Opaque keyset cursors: base64url of a JSON value (the last row's sort key). */

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

export function decodeCursor<T>(cursor: string | undefined, isValid: (value: unknown) => value is T): T | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new Error("invalid page cursor");
  }
  if (!isValid(value)) throw new Error("invalid page cursor");
  return value;
}

export const isString = (v: unknown): v is string => typeof v === "string";
export const isInteger = (v: unknown): v is number => Number.isInteger(v);

export { clampLimit, nowIso } from "../paging";
