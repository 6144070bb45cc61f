/**
 * Calendar arithmetic for one cron pattern in one time zone: which instants ("slots") it names. No timers —
 * the scheduler uses this to work out which slot a croner wake-up (or a catch-up) belongs to.
 */
import { Cron } from "croner";

const NICKNAMES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"]);

/**
 * Why `pattern` is not an acceptable schedule, or undefined when it is. Herald takes classic five-field
 * cron (minute hour day-of-month month day-of-week) or a nickname such as "@daily"; croner's optional
 * seconds field and its "?" (= "the time Herald started") are refused because a notification schedule
 * that depends on them is almost certainly a mistake.
 */
export function cronPatternProblem(pattern: string): string | undefined {
  const trimmed = pattern.trim();
  if (!trimmed) return "cron must not be empty";
  if (trimmed.startsWith("@")) {
    if (!NICKNAMES.has(trimmed.toLowerCase())) return `cron "${pattern}" is not a known nickname (${[...NICKNAMES].join(", ")})`;
  } else {
    const fields = trimmed.split(/\s+/).length;
    if (fields !== 5) return `cron "${pattern}" has ${fields} fields; use five: minute hour day-of-month month day-of-week`;
    if (trimmed.includes("?")) return `cron "${pattern}" uses "?", which croner replaces with the start time; write the value out`;
  }
  let cron: Cron;
  try {
    cron = new Cron(trimmed, { paused: true });
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
    this.cron = new Cron(pattern.trim(), { timezone: timeZone, paused: true });
  }

  /** The first slot strictly after `after`. */
  next(after: Date): Date | undefined {
    return this.cron.nextRun(after) ?? undefined;
  }

  /** The latest slot in [notBefore, notAfter], or undefined when the window holds none. */
  latest(notBefore: Date, notAfter: Date): Date | undefined {
    let found: Date | undefined;
    // croner answers "strictly after", and slots fall on whole seconds, so step back 1 ms to include notBefore.
    let cursor = new Date(notBefore.getTime() - 1);
    for (;;) {
      const next = this.cron.nextRun(cursor);
      if (!next || next.getTime() > notAfter.getTime()) return found;
      found = next;
      cursor = next;
    }
  }
}
