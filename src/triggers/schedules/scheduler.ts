/**
 * The timer trigger: turns each configured schedule into notifications at the right instants.
 *
 * - One croner job per (schedule, zone): the schedule's own zone, or — for `timeZone: "recipient"` — one per
 *   time zone Herald has captured for recipients (from `zonesProvider`) plus the default zone.
 * - croner's `protect` keeps one job from overlapping itself; `store.claimSlot` makes each slot run once
 *   across restarts and processes; the notification's idempotency key `schedule:<id>:<slot>` makes a
 *   duplicate `notify` (a retry, a race) return the existing job instead of creating a second one.
 * - A slot is run when Herald reaches it at most `catchUpMinutes` late (timer lateness, a restart, a zone
 *   discovered late); older slots are skipped and logged.
 * - A claimed slot stays claimed even if `notify` keeps failing: it is retried in-process with the same
 *   idempotency key, then given up with an error log naming that key (see docs/schedules.md).
 *
 * Time comes from the global clock (Date/setTimeout), because that is what croner uses; tests drive both
 * with sinon fake timers.
 */
import { Cron } from "croner";
import type { Logger } from "../../logger";
import type { ScheduleRunStore } from "../../store/types";
import type { NotificationRequest, Notify, TriggerMeta } from "../../delivery/notification-request";
import { RECIPIENT_TIME_ZONE, type ScheduleDefinition } from "./schedule-config";
import { CRON_OPTIONS, SlotCalendar } from "./slot-calendar";
import { isTimeZone } from "../../time-zone";

export interface SchedulerOptions {
  schedules: readonly ScheduleDefinition[];
  store: ScheduleRunStore;
  notify: Notify;
  logger: Logger;
  /** The zone of recipients whose time zone Herald never captured (HERALD_DEFAULT_TIMEZONE). */
  defaultTimeZone: string;
  /**
   * Time zones captured for recipients (distinct Target.timeZone / Member.timeZone values, exactly as stored).
   * Only needed for `timeZone: "recipient"` schedules; without it they reach the default zone's group only.
   */
  zonesProvider?: () => Promise<string[]>;
  /** How often `zonesProvider` is asked again. Default 15. */
  zonesRefreshMinutes?: number;
  /** How late a slot may still be run. Default 10, at least 1, at most 1440. */
  catchUpMinutes?: number;
  /** Waits between attempts when claiming or notifying throws. Default 5 s, 30 s, 2 min. */
  retryDelaysMs?: readonly number[];
}

/** One croner job: a schedule in one zone. */
interface ZoneTimer {
  key: string;
  schedule: ScheduleDefinition;
  zone: string;
  /** True for a "recipient" schedule: the run is limited to recipients in `zone`. */
  zoneGroup: boolean;
  calendar: SlotCalendar;
  job: Cron;
  /** croner re-checks a held-back wake-up every 30 s; warn once per overrunning run, not each time. */
  overrunReported: boolean;
}

const GAVE_UP = Symbol("gave up");

export class Scheduler {
  private readonly schedules: readonly ScheduleDefinition[];
  private readonly catchUpMs: number;
  private readonly refreshMs: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly timers = new Map<string, ZoneTimer>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Wakes every retry wait early when stopping. */
  private readonly sleepers = new Set<() => void>();
  private readonly invalidZonesReported = new Set<string>();
  private refreshTimeout: NodeJS.Timeout | undefined;
  private state: "new" | "started" | "stopped" = "new";

  constructor(private readonly options: SchedulerOptions) {
    if (!isTimeZone(options.defaultTimeZone)) throw new Error(`defaultTimeZone "${options.defaultTimeZone}" is not an IANA time zone`);
    const catchUpMinutes = options.catchUpMinutes ?? 10;
    if (!(catchUpMinutes >= 1 && catchUpMinutes <= 1440)) throw new Error("catchUpMinutes must be from 1 to 1440");
    const refreshMinutes = options.zonesRefreshMinutes ?? 15;
    if (!(refreshMinutes > 0)) throw new Error("zonesRefreshMinutes must be positive");
    const ids = new Set<string>();
    for (const schedule of options.schedules) {
      if (ids.has(schedule.id)) throw new Error(`schedule id "${schedule.id}" is used twice`);
      ids.add(schedule.id);
    }
    this.schedules = options.schedules.filter((schedule) => schedule.enabled !== false);
    this.catchUpMs = catchUpMinutes * 60_000;
    this.refreshMs = refreshMinutes * 60_000;
    this.retryDelaysMs = options.retryDelaysMs ?? [5_000, 30_000, 120_000];
  }

  /** Arms every schedule and starts catching up on slots missed within the window. Does not wait for runs. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error("a Scheduler starts once; create a new one instead");
    this.state = "started";
    const log = this.options.logger;
    for (const skipped of this.options.schedules.filter((schedule) => schedule.enabled === false)) {
      log.info({ scheduleId: skipped.id }, "schedule disabled");
    }
    const fixed = this.schedules.filter((schedule) => schedule.timeZone !== RECIPIENT_TIME_ZONE);
    for (const schedule of fixed) {
      const timer = this.arm(schedule, schedule.timeZone, false);
      await this.reportMissedSlots(timer);
    }
    if (this.schedules.length > fixed.length) {
      if (!this.options.zonesProvider) {
        log.warn({ defaultTimeZone: this.options.defaultTimeZone },
          "no recipient time zones are known (no zonesProvider): \"recipient\" schedules reach only the default zone's group");
      }
      await this.refreshZones();
      this.scheduleZoneRefresh();
    }
  }

  /** Disarms every timer and waits for runs in progress (their retry waits end early: they give up). */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    if (this.refreshTimeout) clearTimeout(this.refreshTimeout);
    for (const timer of this.timers.values()) timer.job.stop();
    this.timers.clear();
    for (const wake of this.sleepers) wake();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Each armed (schedule, zone) and its next slot, for logs and a health/status view. */
  status(): Array<{ scheduleId: string; timeZone: string; zoneGroup: boolean; nextRun?: string }> {
    return [...this.timers.values()].map((timer) => ({
      scheduleId: timer.schedule.id,
      timeZone: timer.zone,
      zoneGroup: timer.zoneGroup,
      nextRun: timer.job.nextRun()?.toISOString(),
    }));
  }

  // ------------------------------------------------------------------------------------------- arming

  private arm(schedule: ScheduleDefinition, zone: string, zoneGroup: boolean): ZoneTimer {
    const key = zoneGroup ? `${schedule.id}|${zone}` : schedule.id;
    const log = this.options.logger;
    const job = new Cron(schedule.cron.trim(), {
      ...CRON_OPTIONS,
      timezone: zone,
      // A wake-up while this (schedule, zone) is still running waits; it never runs alongside.
      protect: () => {
        if (timer.overrunReported) return;
        timer.overrunReported = true;
        log.warn({ scheduleId: schedule.id, timeZone: zone }, "schedule is due while its previous run is still in progress; the latest due slot runs when that one ends");
      },
      // runDue never throws; this is a last line of defence against an unhandled rejection inside croner.
      catch: (error) => log.error({ err: error, scheduleId: schedule.id, timeZone: zone }, "schedule run failed unexpectedly"),
    }, () => this.track(this.runDue(timer)));
    const timer: ZoneTimer = { key, schedule, zone, zoneGroup, calendar: new SlotCalendar(schedule.cron, zone), job, overrunReported: false };
    this.timers.set(key, timer);
    // Zone groups can be many; refreshZones logs a summary of them instead.
    log[zoneGroup ? "debug" : "info"]({ scheduleId: schedule.id, timeZone: zone, nextRun: job.nextRun()?.toISOString() }, "schedule armed");

    const now = new Date();
    if (timer.calendar.latest(new Date(now.getTime() - this.catchUpMs), now)) {
      // Through croner, so that protect also holds the next wake-up back while the catch-up runs.
      void job.trigger();
    }
    return timer;
  }

  private disarm(timer: ZoneTimer): void {
    timer.job.stop();
    this.timers.delete(timer.key);
  }

  /** Asks for the recipients' zones and arms/disarms the zone groups of every "recipient" schedule. */
  private async refreshZones(): Promise<void> {
    const zones = await this.knownZones();
    if (this.state !== "started") return;
    for (const schedule of this.schedules.filter((candidate) => candidate.timeZone === RECIPIENT_TIME_ZONE)) {
      const added: string[] = [];
      const removed: string[] = [];
      for (const zone of zones) {
        if (this.timers.has(`${schedule.id}|${zone}`)) continue;
        this.arm(schedule, zone, true);
        added.push(zone);
      }
      for (const timer of [...this.timers.values()]) {
        if (timer.schedule !== schedule || zones.has(timer.zone)) continue;
        this.disarm(timer);
        removed.push(timer.zone);
      }
      if (added.length || removed.length) {
        this.options.logger.info({ scheduleId: schedule.id, timeZones: zones.size, added, removed }, "recipient time zones of a schedule updated");
      }
    }
  }

  private scheduleZoneRefresh(): void {
    if (!this.options.zonesProvider || this.state !== "started") return;
    this.refreshTimeout = setTimeout(() => {
      this.refreshZones()
        .catch((error) => this.options.logger.error({ err: error }, "refreshing recipient time zones failed"))
        .finally(() => this.scheduleZoneRefresh());
    }, this.refreshMs);
  }

  /** Valid captured zones plus the default one. A failing provider keeps the zones armed so far. */
  private async knownZones(): Promise<Set<string>> {
    const zones = new Set([this.options.defaultTimeZone]);
    if (!this.options.zonesProvider) return zones;
    let captured: string[];
    try {
      captured = await this.options.zonesProvider();
    } catch (error) {
      this.options.logger.warn({ err: error }, "could not list recipients' time zones; keeping the ones already armed");
      for (const timer of this.timers.values()) if (timer.zoneGroup) zones.add(timer.zone);
      return zones;
    }
    for (const zone of captured) {
      if (isTimeZone(zone)) {
        zones.add(zone);
      } else if (!this.invalidZonesReported.has(zone)) {
        this.invalidZonesReported.add(zone);
        this.options.logger.warn({ timeZone: zone }, "ignoring a captured time zone that is not an IANA zone; those recipients get no \"recipient\" schedule");
      }
    }
    return zones;
  }

  /** On start: tell the operator when the last run of a schedule is followed by slots too old to catch up. */
  private async reportMissedSlots(timer: ZoneTimer): Promise<void> {
    try {
      const last = await this.options.store.lastSlot(timer.schedule.id);
      if (!last) return;
      const lastInstant = new Date(last.slot.split("|")[0] ?? "");
      if (Number.isNaN(lastInstant.getTime())) return;
      const firstMissed = timer.calendar.next(lastInstant);
      const windowStart = Date.now() - this.catchUpMs;
      if (firstMissed && firstMissed.getTime() < windowStart) {
        this.options.logger.warn({ scheduleId: timer.schedule.id, lastSlot: last.slot, firstMissed: firstMissed.toISOString(), catchUpMinutes: this.catchUpMs / 60_000 },
          "slots were missed while Herald was not running; they are older than catchUpMinutes and are not run");
      }
    } catch (error) {
      this.options.logger.warn({ err: error, scheduleId: timer.schedule.id }, "could not read the schedule's last slot");
    }
  }

  // --------------------------------------------------------------------------------------------- runs

  private track(run: Promise<void>): Promise<void> {
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** A wake-up (on time, late, or a catch-up): run the latest slot that is due, if it is within the window. */
  private async runDue(timer: ZoneTimer): Promise<void> {
    try {
      await this.runLatestDueSlot(timer);
    } finally {
      timer.overrunReported = false;
    }
  }

  private async runLatestDueSlot(timer: ZoneTimer): Promise<void> {
    const now = new Date();
    const slotAt = timer.calendar.latest(new Date(now.getTime() - this.catchUpMs), now);
    if (!slotAt) {
      this.options.logger.warn({ scheduleId: timer.schedule.id, timeZone: timer.zone }, "schedule woke up with no slot due within catchUpMinutes; nothing to run");
      return;
    }
    await this.runSlot(timer, slotAt, now);
  }

  private async runSlot(timer: ZoneTimer, slotAt: Date, now: Date): Promise<void> {
    const { schedule } = timer;
    const slot = timer.zoneGroup ? `${slotAt.toISOString()}|${timer.zone}` : slotAt.toISOString();
    const idempotencyKey = `schedule:${schedule.id}:${slot}`;
    const log = this.options.logger.child({ scheduleId: schedule.id, slot });

    const claimed = await this.attempt(log, "claim the slot", () => this.options.store.claimSlot(schedule.id, slot));
    if (claimed === GAVE_UP) return;
    if (!claimed) {
      log.debug("slot already run (by this or another process)");
      return;
    }
    log.debug("slot claimed");

    const request: NotificationRequest = {
      ...schedule.notification,
      // People opt out per category; by default each schedule is its own category.
      category: schedule.notification.category ?? schedule.id,
      idempotencyKey,
    };
    const meta: TriggerMeta = { triggeredBy: `schedule:${schedule.id}` };
    if (timer.zoneGroup) {
      meta.timeZoneFilter = { zones: [timer.zone], includeUnknown: timer.zone === this.options.defaultTimeZone };
    }
    const lateMs = now.getTime() - slotAt.getTime();
    const result = await this.attempt(log, "create the notification", () => this.options.notify(request, meta));
    if (result === GAVE_UP) {
      // Not released: see "When notify fails" in docs/schedules.md for sending it by hand.
      log.error({ idempotencyKey, timeZoneFilter: meta.timeZoneFilter }, "scheduled notification was not created; the slot stays claimed and is not run again");
      return;
    }
    log.info({ jobId: result.id, created: result.created, lateMs }, result.created ? "scheduled notification created" : "scheduled notification already existed");
  }

  /** Runs `action`, retrying after each of `retryDelaysMs` while not stopped. */
  private async attempt<T>(log: Logger, what: string, action: () => Promise<T>): Promise<T | typeof GAVE_UP> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await action();
      } catch (error) {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined || this.stopped) {
          log.error({ err: error, attempts: attempt + 1 }, `could not ${what}; giving up`);
          return GAVE_UP;
        }
        log.warn({ err: error, attempt: attempt + 1, retryInMs: delay }, `could not ${what}; retrying`);
        await this.sleep(delay);
        if (this.stopped) {
          log.error({ attempts: attempt + 1 }, `could not ${what} before Herald stopped; giving up`);
          return GAVE_UP;
        }
      }
    }
  }

  /** A getter, so that TypeScript does not narrow it across awaits. */
  private get stopped(): boolean {
    return this.state === "stopped";
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timeout);
        this.sleepers.delete(wake);
        resolve();
      };
      const timeout = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
