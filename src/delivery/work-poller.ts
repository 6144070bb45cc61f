/**
 * The engine's doorbell: reads the work items of the partitions this process owns twice a second and starts
 * what is new — a job slice created on another instance starts sending within one poll (≤ 500 ms), a roster to
 * read runs on the tenant's owner, and a slice that a cancel closed elsewhere is stopped.
 *
 * Why polling and not a queue: the work items already are the durable record of what is left to do (they are
 * what a new owner resumes from), so a queue message would be a second copy to keep consistent, poison-handle
 * and pay for; a range query over a small table costs a fraction of a cent a day per instance.
 *
 * The janitor, on the owner of partition 0, finishes jobs whose last slice owner died between closing its
 * slice and finishing the job, and re-opens slices whose work item went missing.
 */
import type { PartitionOwnership } from "../cluster/ownership";
import { partitionOf } from "../cluster/partitions";
import type { Logger } from "../logger";
import type { HeraldStore, WorkItem } from "../store/types";
import type { ActiveJob } from "./engine-context";
import { errorText } from "./engine-report";

/** A work item whose job never appeared (its writer died while creating it) is dropped after this long. */
const ORPHAN_ITEM_MS = 15 * 60_000;
/** A work item whose handler failed this many times in a row (with backoff) is dropped. */
const MAX_HANDLER_FAILURES = 6;
/** The janitor leaves jobs younger than this alone (their slices are still being picked up). */
const JANITOR_MIN_AGE_MS = 60_000;

export interface WorkPollerDeps {
  store: HeraldStore;
  ownership: PartitionOwnership;
  log: Logger;
  pollMs: number;
  janitorMs: number;
  handlers: Partial<Record<Exclude<WorkItem["kind"], "job">, (item: WorkItem) => Promise<void>>>;
  activeSlices(): ActiveJob[];
  activate(jobId: string, partition: number): Promise<void>;
  closedElsewhere(aj: ActiveJob): Promise<void>;
  finishJob(jobId: string): Promise<void>;
}

export class WorkPoller {
  private pollTimer?: NodeJS.Timeout;
  private janitorTimer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private again = false;
  private pokeScheduled = false;
  private stopped = true;
  /** Handlers running, by `${kind}:${id}`. */
  private readonly running = new Map<string, Promise<void>>();
  /** Handlers that failed: not tried again before `notBefore` (backoff), given up after MAX_HANDLER_FAILURES. */
  private readonly failures = new Map<string, { count: number; notBefore: number }>();

  constructor(private readonly deps: WorkPollerDeps) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.poll();
    this.pollTimer = setInterval(() => void this.poll(), this.deps.pollMs);
    this.pollTimer.unref();
    this.janitorTimer = setInterval(() => void this.janitor(), this.deps.janitorMs);
    this.janitorTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.janitorTimer);
    await this.polling;
  }

  /** Poll as soon as possible (coalesced). */
  poke(): void {
    if (this.stopped || this.pokeScheduled) return;
    this.pokeScheduled = true;
    setImmediate(() => {
      this.pokeScheduled = false;
      void this.poll();
    });
  }

  isIdle(): boolean {
    return this.running.size === 0;
  }

  partitionOf(tenantId: string): number {
    return partitionOf(tenantId, this.deps.ownership.partitionCount);
  }

  /** Runs one poll; a poll asked for while one runs happens right after it (never two at once). */
  poll(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.polling) {
      this.again = true;
      return this.polling;
    }
    this.polling = this.pollOnce()
      .catch((err) => this.deps.log.warn({ err: errorText(err) }, "could not read work items; retrying"))
      .finally(() => {
        this.polling = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.poll();
        }
      });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const { ownership, store } = this.deps;
    const owned = ownership.shared ? ownership.owned() : undefined;
    const items = owned && owned.length === 0 ? [] : await store.work.list(owned);
    const open = new Set<string>();
    for (const item of items) {
      if (this.stopped || !ownership.owns(item.partition)) continue;
      if (item.kind === "job") {
        open.add(`${item.id}#${item.partition}`);
        await this.startSlice(item);
      } else {
        this.runHandler(item);
      }
    }
    for (const aj of this.deps.activeSlices()) {
      if (!open.has(aj.key) && !aj.cancelled && !aj.stopped && !aj.finishing && ownership.owns(aj.partition)) {
        await this.deps.closedElsewhere(aj);
      }
    }
  }

  private async startSlice(item: WorkItem): Promise<void> {
    if (this.deps.activeSlices().some((aj) => aj.key === `${item.id}#${item.partition}`)) return;
    await this.deps.activate(item.id, item.partition);
    if (Date.now() - Date.parse(item.createdAt) > ORPHAN_ITEM_MS && !(await this.deps.store.jobs.getJob(item.id))) {
      this.deps.log.warn({ jobId: item.id, partition: item.partition }, "dropping a work item whose job was never written");
      await this.deps.store.work.remove(item.partition, item.kind, item.id);
    }
  }

  private runHandler(item: WorkItem): void {
    const key = `${item.kind}:${item.id}`;
    const handler = item.kind === "job" ? undefined : this.deps.handlers[item.kind];
    const failed = this.failures.get(key);
    if (!handler || this.running.has(key) || (failed && Date.now() < failed.notBefore)) return;
    const remove = () => this.deps.store.work.remove(item.partition, item.kind, item.id).then(() => undefined);
    const run = handler(item)
      .then(() => {
        this.failures.delete(key);
        return remove();
      })
      .catch(async (err) => {
        const count = (failed?.count ?? 0) + 1;
        if (count >= MAX_HANDLER_FAILURES) {
          this.failures.delete(key);
          this.deps.log.error({ kind: item.kind, id: item.id, failures: count, err: errorText(err) }, "work item keeps failing; giving up on it");
          await remove().catch(() => undefined);
          return;
        }
        this.failures.set(key, { count, notBefore: Date.now() + Math.min(300_000, 5000 * 2 ** (count - 1)) });
        this.deps.log.warn({ kind: item.kind, id: item.id, failures: count, err: errorText(err) }, "work item failed; it stays for a later try");
      })
      .finally(() => this.running.delete(key));
    this.running.set(key, run);
  }

  /** Safety net for jobs whose slices are all closed but which nobody finished, or whose work items vanished. */
  async janitor(): Promise<void> {
    const { ownership, store, log } = this.deps;
    if (this.stopped || !ownership.owns(0)) return;
    try {
      const [jobs, items] = await Promise.all([store.jobs.listUnfinishedJobs(), store.work.list()]);
      const withWork = new Set(items.filter((i) => i.kind === "job").map((i) => i.id));
      for (const job of jobs) {
        if (withWork.has(job.id) || Date.now() - Date.parse(job.createdAt) < JANITOR_MIN_AGE_MS) continue;
        await this.deps.finishJob(job.id);
        if ((await store.jobs.getJob(job.id))?.status !== "running" && job.status !== "queued") continue;
        for (const slice of job.slices) {
          const left = await store.jobs.listDeliveriesByStatus(job.id, ["pending", "sending"], 1, slice.firstSeq - 1, slice.firstSeq + slice.count);
          if (left.length === 0) continue;
          log.warn({ jobId: job.id, partition: slice.partition }, "re-opening a job slice whose work item was missing");
          await store.work.put({ partition: slice.partition, kind: "job", id: job.id, data: {} });
        }
      }
    } catch (err) {
      log.warn({ err: errorText(err) }, "janitor round failed");
    }
  }
}
