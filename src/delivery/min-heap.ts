/** A binary min-heap ordered by a numeric key; ties come out in no particular order. */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly keyOf: (item: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    const key = this.keyOf(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keyOf(a[parent]) <= key) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = item;
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      const key = this.keyOf(last);
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const child = r < a.length && this.keyOf(a[r]) < this.keyOf(a[l]) ? r : l;
        if (this.keyOf(a[child]) >= key) break;
        a[i] = a[child];
        i = child;
      }
      a[i] = last;
    }
    return top;
  }

  /** Remove every item matching `predicate`; returns them. O(n). */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed = this.items.filter(predicate);
    if (removed.length === 0) return removed;
    const kept = this.items.filter((item) => !predicate(item));
    this.items = [];
    for (const item of kept) this.push(item);
    return removed;
  }

  toArray(): T[] {
    return this.items.slice();
  }
}
