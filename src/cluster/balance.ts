/**
 * The balancing rule every instance applies to the same picture (the live instances and the partitions each
 * claims) to decide what it takes and what it gives up. It converges without any instance telling another
 * what to do: quotas are a deterministic function of the sorted instance ids, an instance above its quota
 * releases only when someone is below theirs, and one below takes only partitions nobody claims.
 */

export interface BalanceInput {
  self: string;
  partitionCount: number;
  /** Live instances, self included, with the partitions each claims. */
  instances: ReadonlyArray<{ id: string; partitions: readonly number[] }>;
  /** How many consecutive rounds each unclaimed partition has been seen unclaimed (by this instance). */
  freeRounds?: ReadonlyMap<number, number>;
  /** Rounds after which an unclaimed partition is taken by the neediest instance even above its quota. */
  orphanRounds?: number;
}

export interface BalancePlan {
  quota: number;
  acquire: number[];
  release: number[];
}

/** An instance's fair share: P / N, the first (P mod N) instances in id order take one more. */
export function quotaOf(ids: readonly string[], partitionCount: number, id: string): number {
  const sorted = [...ids].sort();
  const index = sorted.indexOf(id);
  if (index < 0 || sorted.length === 0) return 0;
  const base = Math.floor(partitionCount / sorted.length);
  return base + (index < partitionCount % sorted.length ? 1 : 0);
}

export function planBalance(input: BalanceInput): BalancePlan {
  const { self, partitionCount } = input;
  const ids = input.instances.map((i) => i.id);
  if (!ids.includes(self)) ids.push(self);
  const quota = quotaOf(ids, partitionCount, self);
  const mine = [...(input.instances.find((i) => i.id === self)?.partitions ?? [])].sort((a, b) => a - b);
  const claimed = new Set<number>();
  for (const instance of input.instances) for (const p of instance.partitions) claimed.add(p);
  const free: number[] = [];
  for (let p = 0; p < partitionCount; p++) if (!claimed.has(p)) free.push(p);

  const plan: BalancePlan = { quota, acquire: [], release: [] };
  if (mine.length > quota) {
    const someoneWants = input.instances.some((i) => i.id !== self && i.partitions.length < quotaOf(ids, partitionCount, i.id));
    if (someoneWants) plan.release = mine.slice(quota).reverse();
    return plan;
  }
  if (mine.length < quota && free.length) {
    // Start looking at a different place per instance so newcomers rarely race for the same lease.
    const offset = Math.floor((([...ids].sort().indexOf(self)) * partitionCount) / ids.length);
    const rotated = [...free.filter((p) => p >= offset), ...free.filter((p) => p < offset)];
    plan.acquire = rotated.slice(0, quota - mine.length);
  }
  // Orphans: unclaimed for a while although everyone thinks they are at quota (views disagree briefly while
  // instances come and go). The instance with the fewest partitions (then the lowest id) takes them.
  // If even that instance cannot take them (its storage calls fail), everyone tries after twice as long: the
  // first lease wins.
  const orphanRounds = input.orphanRounds ?? 3;
  const rounds = (p: number) => input.freeRounds?.get(p) ?? 0;
  const orphans = free.filter((p) => !plan.acquire.includes(p) && rounds(p) >= orphanRounds);
  if (orphans.length) {
    const neediest = [...input.instances].sort((a, b) => a.partitions.length - b.partitions.length || (a.id < b.id ? -1 : 1))[0];
    plan.acquire.push(...(neediest?.id === self ? orphans : orphans.filter((p) => rounds(p) >= 2 * orphanRounds)));
  }
  return plan;
}
