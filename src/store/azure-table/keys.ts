/**
 * PartitionKey/RowKey encoding for Azure Table Storage.
 *
 * Table keys may not contain '/', '\\', '#', '?' or control characters (U+0000–U+001F, U+007F–U+009F), and
 * '%' / "'" are awkward in URLs and OData filters. `encodeKey` escapes them while preserving order
 * (a < b ⇔ encodeKey(a) < encodeKey(b)) and prefixes (encodeKey(p + x) = encodeKey(p) + encodeKey(x)), so a
 * RowKey range scan over encoded keys is a range scan over the original keys.
 *
 * How: each escaped character belongs to a contiguous run of code points and is written as that run's escape
 * character (itself a member of the run, so it sorts where the run sorts) followed by two upper-case hex digits:
 *   U+0000–U+0027 → "!" + hex   (controls, space, !, ", #, $, %, &, ')
 *   U+002E–U+002F → "." + hex   (., /)
 *   U+003E–U+003F → ">" + hex   (>, ?)
 *   U+005B–U+005C → "[" + hex   ([, \)
 *   U+007E–U+009F → "~" + hex   (~, DEL, C1 controls)
 * Every other character is written as itself. An escape character is never followed by anything but two hex
 * digits, which makes `KEY_SEPARATOR` ("!!") impossible inside an encoded key and smaller than anything that
 * can follow a key: `encodeKey(a) + "!!" + encodeKey(b)` orders by (a, b).
 */

const RUNS: Array<[number, number, string]> = [
  [0x00, 0x27, "!"],
  [0x2e, 0x2f, "."],
  [0x3e, 0x3f, ">"],
  [0x5b, 0x5c, "["],
  [0x7e, 0x9f, "~"],
];

const ESCAPE = new Map<number, string>();
for (const [from, to, escape] of RUNS) {
  for (let c = from; c <= to; c++) ESCAPE.set(c, escape + c.toString(16).toUpperCase().padStart(2, "0"));
}

const ESCAPE_CHARS = new Set(RUNS.map(([, , e]) => e));

/** Separates the parts of a composite key; sorts below any character an encoded key can continue with. */
export const KEY_SEPARATOR = "!!";

export function encodeKey(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    out += code <= 0x9f ? (ESCAPE.get(code) ?? value[i]) : value[i];
  }
  return out;
}

export function decodeKey(encoded: string): string {
  let out = "";
  for (let i = 0; i < encoded.length; i++) {
    const ch = encoded[i]!;
    if (ESCAPE_CHARS.has(ch)) {
      out += String.fromCharCode(parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Joins parts into one key that orders by the parts, left to right. */
export function compositeKey(...parts: string[]): string {
  return parts.map(encodeKey).join(KEY_SEPARATOR);
}

/**
 * The smallest string greater than every string that starts with `prefix` (for `RowKey lt ...` bounds).
 * `prefix` must be non-empty and end in a character below U+FFFF.
 */
export function prefixUpperBound(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/** Fixed-width decimal, so numeric order is RowKey order (seq up to 10^10 - 1). */
export function padNumber(n: number, width = 10): string {
  return String(n).padStart(width, "0");
}

/** 32-bit FNV-1a over UTF-16 code units: a stable hash for spreading rows over a fixed number of partitions. */
export function stableHash(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Bucket `value` into one of `buckets` partitions, as a fixed-width string. */
export function bucketOf(value: string, buckets: number): string {
  return padNumber(stableHash(value) % buckets, String(buckets - 1).length);
}
