/**
 * Calendar arithmetic for one cron pattern in one time zone: which instants ("slots") it names. No timers —
 * the scheduler uses this to work out which slot a croner wake-up (or a catch-up) belongs to.
 */
import { Cron, type CronOptions } from "croner";

/**
 * How Herald reads every pattern, for the timers and for this arithmetic alike:
 * - classic five fields (minute hour day-of-month month day-of-week) or a nickname such as "@daily" —
 *   croner's optional seconds and year fields are refused, a notification schedule does not need them;
 * - DST: a job whose minute and hour fields have no wildcard or step ("30 2 * * *", "0 9,17 * * *") is a
 *   fixed-time job: in a spring-forward gap it runs at the first valid time after the gap, and when a time
 *   occurs twice (fall-back) it runs once, at the first occurrence. Other jobs ("*\/15 * * * *") are
 *   interval jobs: they skip times in the gap and run on both occurrences of a repeated time. (croner's
 *   "no-wildcard" rule, close to Vixie cron.)
 */
export const CRON_OPTIONS = { mode: "5-part", fixedTimeRule: "no-wildcard" } as const satisfies CronOptions;

/** Why `pattern` is not an acceptable schedule, or undefined when it is. */
export function cronPatternProblem(pattern: string): string | undefined {
  if (!pattern.trim()) return "cron must not be empty";
  let cron: Cron;
  try {
    cron = new Cron(pattern.trim(), { ...CRON_OPTIONS, paused: true });
  } catch (error) {
    return `cron "${pattern}" is not valid (${error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error)})`;
  }
  if (!cron.nextRun()) return `cron "${pattern}" never fires`;
  return undefined;
}

export class SlotCalendar {
  private readonly cron: Cron;

  /** `pattern` must have passed `cronPatternProblem`; `timeZone` must be a valid IANA zone. */
  constructor(readonly pattern: string, readonly timeZone: string) {
    // No function is attached, so croner never arms a timer for this instance: it is pure arithmetic.
    this.cron = new Cron(pattern.trim(), { ...CRON_OPTIONS, timezone: timeZone, paused: true });
  }

  /** The first slot strictly after `after`. */
  next(after: Date): Date | undefined {
    return this.cron.nextRun(after) ?? undefined;
  }

  /** The latest slot in [notBefore, notAfter], or undefined when the window holds none. */
  latest(notBefore: Date, notAfter: Date): Date | undefined {
    // croner answers "strictly before, or earlier in the same second", and slots fall on whole seconds:
    // asking from 1 ms later makes a slot exactly at `notAfter` count.
    const [previous] = this.cron.previousRuns(1, new Date(notAfter.getTime() + 1));
    return previous && previous.getTime() >= notBefore.getTime() ? previous : undefined;
  }
}
