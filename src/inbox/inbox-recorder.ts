/**
 * Keeps "My notifications" current: an observer of the delivery engine that writes each sent delivery into
 * the inbox index, in the background and in batches, never on the engine's path.
 *
 * Nothing is lost for long: entries queued in memory die with the process, and a job can be sent by another
 * instance, so when a job finishes and this process has not recorded all of its sent deliveries, it reads the
 * job's sent deliveries from the store and records them (idempotent: an entry is keyed by job and place).
 */
import type { DeliveryObserver, JobFinishedEvent, SettledEvent } from "../delivery/delivery-events";
import type { Logger } from "../logger";
import type { HeraldStore, Job } from "../store/types";
import { inboxEntriesOf } from "./inbox-entries";
import type { InboxEntry } from "../store/inbox";

export interface InboxRecorderOptions {
  store: Pick<HeraldStore, "inbox" | "members" | "targets" | "jobs">;
  logger: Logger;
  /** How long sent deliveries gather before they are written together (ms; default 1000: fewer, fuller transactions). */
  flushDelayMs?: number;
  /** Deliveries per write. */
  batchSize?: number;
  /** Beyond this many queued deliveries, new ones are left to the sweep at the job's end (memory bound). */
  maxQueued?: number;
  /** First wait before a failed write is tried again (ms; then ×4). */
  retryDelayMs?: number;
}

type Work = { kind: "sent"; event: SettledEvent } | { kind: "finished"; event: JobFinishedEvent };

const WRITE_ATTEMPTS = 3;
const SWEEP_PAGE = 1000;

export class InboxRecorder implements DeliveryObserver {
  private readonly queue: Work[] = [];
  /** Deliveries of each job this process recorded, to tell at the job's end whether a sweep is needed. */
  private readonly recorded = new Map<string, number>();
  private running?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private queuedSent = 0;

  constructor(private readonly options: InboxRecorderOptions) {}

  onSettled(event: SettledEvent): void {
    if (event.delivery.status !== "sent") return;
    if (this.queuedSent >= (this.options.maxQueued ?? 100_000)) return; // the sweep at the job's end covers it
    this.queuedSent++;
    this.queue.push({ kind: "sent", event });
    this.schedule();
  }

  onJobFinished(event: JobFinishedEvent): void {
    this.queue.push({ kind: "finished", event });
    this.schedule();
  }

  /** Resolves once everything queued so far is written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.queue.length || this.running || this.timer) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.start();
      }
      await this.running;
    }
  }

  private schedule(): void {
    if (this.running || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, this.options.flushDelayMs ?? 1000);
    this.timer.unref();
  }

  private start(): void {
    this.running ??= this.drain()
      .catch((error: unknown) => this.options.logger.error({ err: error }, "inbox: recording failed"))
      .finally(() => {
        this.running = undefined;
        if (this.queue.length) this.schedule();
      });
  }

  private async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    while (this.queue.length) {
      const head = this.queue[0]!;
      if (head.kind === "finished") {
        this.queue.shift();
        await this.finish(head.event);
        continue;
      }
      // Sent deliveries up to the next "finished": that job's entries are written before its check.
      let n = 0;
      while (n < batchSize && n < this.queue.length && this.queue[n]!.kind === "sent") n++;
      const batch = this.queue.splice(0, n) as Array<Extract<Work, { kind: "sent" }>>;
      this.queuedSent -= batch.length;
      await this.recordDeliveries(batch.map((w) => w.event));
    }
  }

  private async recordDeliveries(events: SettledEvent[]): Promise<void> {
    let entries: InboxEntry[] = [];
    const done = new Map<string, number>();
    for (const { job, delivery } of events) {
      try {
        for await (const chunk of inboxEntriesOf(this.options.store, job, delivery)) {
          entries.push(...chunk);
          if (entries.length >= 1000) {
            await this.write(entries);
            entries = [];
          }
        }
        done.set(job.id, (done.get(job.id) ?? 0) + 1);
      } catch (error) {
        this.options.logger.warn({ err: error, jobId: job.id, recipientKey: delivery.recipientKey }, "inbox: could not record a delivery; the job's end will retry");
      }
    }
    try {
      await this.write(entries);
    } catch (error) {
      this.options.logger.warn({ err: error }, "inbox: could not write entries; the job's end will retry");
      return;
    }
    for (const [jobId, n] of done) this.recorded.set(jobId, (this.recorded.get(jobId) ?? 0) + n);
  }

  private async finish({ job, counts }: JobFinishedEvent): Promise<void> {
    const recorded = this.recorded.get(job.id) ?? 0;
    this.recorded.delete(job.id);
    if (recorded >= counts.sent) return;
    this.options.logger.info({ jobId: job.id, sent: counts.sent, recorded }, "inbox: recording the job's sent deliveries from the store");
    await this.sweep(job);
  }

  private async sweep(job: Job): Promise<void> {
    let afterSeq: number | undefined;
    for (;;) {
      const page = await this.options.store.jobs.listDeliveriesByStatus(job.id, ["sent"], SWEEP_PAGE, afterSeq);
      if (!page.length) return;
      let entries: InboxEntry[] = [];
      for (const delivery of page) {
        for await (const chunk of inboxEntriesOf(this.options.store, job, delivery)) entries.push(...chunk);
        if (entries.length >= 1000) {
          await this.write(entries);
          entries = [];
        }
      }
      await this.write(entries);
      afterSeq = page[page.length - 1]!.seq;
    }
  }

  private async write(entries: InboxEntry[]): Promise<void> {
    if (!entries.length) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.store.inbox.record(entries);
        return;
      } catch (error) {
        if (attempt >= WRITE_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, (this.options.retryDelayMs ?? 200) * 4 ** (attempt - 1)));
      }
    }
  }
}
