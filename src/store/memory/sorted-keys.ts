/**
 * A lazily sorted list of string keys for keyset paging in memory. Inserts append (O(1)); the list is re-sorted
 * only when read after an out-of-order insert or a removal. V8's TimSort makes re-sorting a mostly sorted array
 * close to linear, and each page is a binary search plus `limit` steps, so paging through n keys is O(n log n)
 * overall instead of O(n²).
 */
export class SortedKeys {
  private keys: string[] = [];
  private dirty = false;

  /** `exists` tells which keys are still live; removed keys are dropped at the next re-sort. */
  constructor(private readonly exists: (key: string) => boolean) {}

  /** Call once for a key that just became live. */
  add(key: string): void {
    const last = this.keys[this.keys.length - 1];
    if (last !== undefined && !(last < key)) this.dirty = true;
    this.keys.push(key);
  }

  /** Call after a key stopped being live. */
  removed(): void {
    this.dirty = true;
  }

  /** Ascending keys strictly after `after` (or from the start). */
  *ascending(after?: string): Generator<string> {
    const keys = this.sorted();
    for (let i = after === undefined ? 0 : upperBound(keys, after); i < keys.length; i++) yield keys[i]!;
  }

  /** Descending keys strictly before `before` (or from the end). */
  *descending(before?: string): Generator<string> {
    const keys = this.sorted();
    for (let i = (before === undefined ? keys.length : lowerBound(keys, before)) - 1; i >= 0; i--) yield keys[i]!;
  }

  private sorted(): string[] {
    if (this.dirty) {
      const sorted = this.keys.sort();
      const live: string[] = [];
      for (const key of sorted) {
        if (key !== live[live.length - 1] && this.exists(key)) live.push(key);
      }
      this.keys = live;
      this.dirty = false;
    }
    return this.keys;
  }
}

/** First index whose key is > `key`. */
function upperBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is >= `key`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
