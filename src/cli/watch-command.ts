/**
 * `npm run herald -- watch <id> [--interval ms]`: a live progress bar for one notification — sent, failed, gone,
 * pending, the rate and the time left — until it finishes. Exit code 0 when it completed, 1 when it failed or was
 * cancelled. Without a terminal (a pipe, CI) the bar prints a line every few seconds instead of redrawing.
 */
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import type { HeraldApiClient, NotificationReport } from "./api-client";
import { formatDuration, ProgressRate } from "./progress-rate";

const FINISHED = new Set(["completed", "failed", "cancelled"]);

export interface WatchDeps {
  client: HeraldApiClient;
  stream: NodeJS.WriteStream;
  out: (line: string) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export async function runWatchCommand(args: string[], deps: WatchDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { interval: { type: "string", default: "1000" } }, allowPositionals: true, strict: true });
  const id = positionals[0];
  if (!id) throw new Error("watch needs a notification id (npm run herald -- notifications lists them)");
  const interval = Number(values.interval);
  if (!Number.isInteger(interval) || interval < 100) throw new Error("--interval must be a whole number of milliseconds, at least 100");
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  let report = await deps.client.notification(id);
  deps.out(`${report.title} (${report.id}), ${report.counts.total} recipient(s), triggered by ${report.triggeredBy}`);
  const rate = new ProgressRate();
  const bar = new cliProgress.SingleBar({
    stream: deps.stream,
    format: "{bar} {percentage}% | sent {sent} · failed {failed} · gone {gone} · pending {pending} | {rate}/s | ETA {left}",
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 2000,
    etaBuffer: 1,
  }, cliProgress.Presets.shades_classic);
  const startedAt = now();
  bar.start(report.counts.total, done(report), payload(report, rate));

  while (!FINISHED.has(report.status)) {
    await sleep(interval);
    report = await deps.client.notification(id);
    rate.add(now(), done(report));
    bar.setTotal(report.counts.total);
    bar.update(done(report), payload(report, rate));
  }
  bar.stop();
  const c = report.counts;
  deps.out(`${report.status}: ${c.sent} sent, ${c.failed} failed, ${c.gone} gone, ${c.skipped} skipped, ${c.cancelled} cancelled of ${c.total}` +
    ` ${took(report) ?? `(watched ${formatDuration((now() - startedAt) / 1000)})`}${report.error ? ` — ${report.error}` : ""}`);
  return report.status === "completed" ? 0 : 1;
}

/** "in 1m 5s, 47.9/s" from the notification's own start and finish, when it has both. */
function took(report: NotificationReport): string | undefined {
  if (!report.startedAt || !report.finishedAt) return undefined;
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  const attempted = report.counts.sent + report.counts.failed + report.counts.gone;
  return `in ${formatDuration(seconds)}${seconds > 0 ? `, ${(attempted / seconds).toFixed(1)}/s` : ""}`;
}

function done(report: NotificationReport): number {
  return report.counts.total - report.counts.pending;
}

function payload(report: NotificationReport, rate: ProgressRate) {
  const c = report.counts;
  return { sent: c.sent, failed: c.failed, gone: c.gone, pending: c.pending, rate: rate.perSecond().toFixed(1), left: formatDuration(rate.secondsLeft(c.pending)) };
}
