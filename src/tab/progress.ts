/** Live progress of a notification for the dashboard: how much is settled, how fast, and how long the rest takes. */
import type { NotificationReport } from "../delivery/notification-service";
import type { NotificationProgress } from "./api-types";

export function progressOf(report: NotificationReport, now: Date = new Date()): NotificationProgress {
  const { counts } = report;
  const settled = counts.total - counts.pending;
  const progress: NotificationProgress = {
    id: report.id,
    status: report.status,
    title: report.title,
    ...(report.category ? { category: report.category } : {}),
    triggeredBy: report.triggeredBy,
    audience: report.audience,
    createdAt: report.createdAt,
    ...(report.startedAt ? { startedAt: report.startedAt } : {}),
    ...(report.finishedAt ? { finishedAt: report.finishedAt } : {}),
    counts,
    done: counts.total === 0 ? 1 : settled / counts.total,
  };
  if (!report.startedAt) return progress;
  const end = report.finishedAt ? Date.parse(report.finishedAt) : now.getTime();
  const seconds = Math.max(0.001, (end - Date.parse(report.startedAt)) / 1000);
  if (settled > 0) progress.ratePerSecond = settled / seconds;
  if (report.status === "running" && progress.ratePerSecond) progress.etaSeconds = counts.pending / progress.ratePerSecond;
  return progress;
}
