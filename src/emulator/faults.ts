/**
 * Fault injection: rules that replace the connector's answer for matching requests. Probabilistic rules draw
 * from a seeded PRNG so a run with the same seed and request order injects the same faults.
 */
import type { FaultRoute, FaultRule } from "./types";

/** mulberry32: tiny, fast, good enough for test randomness. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultContext {
  route: Exclude<FaultRoute, "any">;
  conversationId?: string;
  userId?: string;
  tenantId?: string;
}

interface ActiveRule {
  id: number;
  rule: FaultRule;
  remaining: number;
}

export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number) {}

  add(rule: FaultRule): number {
    validateRule(rule);
    const id = this.nextId++;
    this.rules.push({ id, rule, remaining: rule.times ?? Infinity });
    return id;
  }

  clear(): void {
    this.rules = [];
  }

  get count(): number {
    return this.rules.length;
  }

  list(): Array<FaultRule & { id: number; remaining: number | null }> {
    return this.rules.map((r) => ({ ...r.rule, id: r.id, remaining: Number.isFinite(r.remaining) ? r.remaining : null }));
  }

  /** The first matching rule that fires for this request (consuming one of its `times`), if any. */
  pick(ctx: FaultContext): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    for (const active of this.rules) {
      if (active.remaining <= 0 || !matches(active.rule, ctx)) continue;
      const p = active.rule.probability;
      if (p !== undefined && p < 1 && this.random() >= p) continue;
      active.remaining--;
      if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
      return active.rule;
    }
    return undefined;
  }
}

function matches(rule: FaultRule, ctx: FaultContext): boolean {
  const m = rule.match;
  if (!m) return true;
  if (m.route && m.route !== "any" && m.route !== ctx.route) return false;
  if (m.conversationId !== undefined && m.conversationId !== ctx.conversationId &&
    m.conversationId !== baseThreadId(ctx.conversationId ?? "")) return false;
  if (m.userId !== undefined && m.userId !== ctx.userId) return false;
  if (m.tenantId !== undefined && m.tenantId !== ctx.tenantId) return false;
  return true;
}

/** Conversation id without Teams' ";messageid=..." thread suffix. */
export function baseThreadId(conversationId: string): string {
  const i = conversationId.indexOf(";messageid=");
  return i < 0 ? conversationId : conversationId.slice(0, i);
}

export function validateRule(rule: FaultRule): void {
  if (!rule || typeof rule !== "object") throw new TypeError("fault rule must be an object");
  if (!Number.isInteger(rule.status) || rule.status < 100 || rule.status > 599) throw new TypeError("fault rule needs an HTTP status 100..599");
  if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) throw new TypeError("times must be a positive integer");
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) throw new TypeError("probability must be within 0..1");
  if (rule.retryAfterSeconds !== undefined && !(rule.retryAfterSeconds >= 0)) throw new TypeError("retryAfterSeconds must be >= 0");
}
