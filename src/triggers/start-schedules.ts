/**
 * Wires the timer trigger into Herald: loads the schedules file, tells the scheduler which time zones
 * recipients are in (the distinct zones captured on targets), and sends through the notification service.
 */
import type { Logger } from "../logger";
import type { NotificationService } from "../delivery/notification-service";
import type { HeraldStore } from "../store/types";
import { loadSchedules } from "./schedules/schedule-config";
import { Scheduler } from "./schedules/scheduler";

export interface RunningSchedules {
  stop(): Promise<void>;
}

/** Distinct time zones of active targets. A full pass, but only every few minutes (the scheduler's refresh). */
export async function capturedTimeZones(store: HeraldStore): Promise<string[]> {
  const zones = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.targets.list({ status: "active" }, 1000, cursor);
    for (const target of page.items) if (target.timeZone) zones.add(target.timeZone);
    cursor = page.cursor;
  } while (cursor);
  return [...zones];
}

export async function startSchedules(deps: { file: string; store: HeraldStore; notifications: NotificationService; logger: Logger; defaultTimeZone: string }): Promise<RunningSchedules> {
  const schedules = await loadSchedules(deps.file);
  const scheduler = new Scheduler({
    schedules,
    store: deps.store.schedules,
    notify: async (request, meta) => {
      const { job, created } = await deps.notifications.create(request, meta);
      return { id: job.id, created };
    },
    logger: deps.logger.child({ component: "schedules" }),
    defaultTimeZone: deps.defaultTimeZone,
    zonesProvider: () => capturedTimeZones(deps.store),
  });
  await scheduler.start();
  deps.logger.info({ schedules: schedules.map((s) => s.id), file: deps.file }, "schedules started");
  return { stop: () => scheduler.stop() };
}
