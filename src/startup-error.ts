/**
 * Whatever stops Herald from starting — a bad variable, a port that is taken, a schedules file, a store it cannot
 * open — becomes one line that names the cause. `src/index.ts` prints it as `Herald cannot start: …` and exits 1,
 * so an operator reading App Service's log stream (or a terminal) sees the reason, not a stack trace.
 */
import { ConfigError } from "./config";
import { ScheduleConfigError } from "./triggers/schedules/schedule-config";

export const STARTUP_FAILURE_PREFIX = "Herald cannot start: ";

export function describeStartupError(error: unknown, port?: number): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof ScheduleConfigError) {
    return `HERALD_SCHEDULES_FILE ${error.source} is invalid: ${error.problems.join("; ")}`;
  }
  const err = (error ?? {}) as NodeJS.ErrnoException & { port?: number; address?: string };
  if (err.syscall === "listen") {
    const where = `port ${err.port ?? port ?? "?"}`;
    switch (err.code) {
      case "EADDRINUSE":
        return `${where} is already in use (PORT): stop the process holding it or set PORT to a free port`;
      case "EACCES":
        return `no permission to listen on ${where} (PORT): choose a port above 1023`;
      case "EADDRNOTAVAIL":
        return `cannot listen on ${where} of ${err.address ?? "this address"} (PORT)`;
    }
  }
  return oneLine(error instanceof Error ? error.message : String(error));
}

/** Multi-line messages (lists of problems) on one line: "a:\n  - b\n  - c" → "a: b; c". */
function oneLine(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trim().replace(/^- /, "")).filter(Boolean);
  return lines.reduce((joined, line) => (joined ? `${joined}${joined.endsWith(":") ? " " : "; "}${line}` : line), "");
}
