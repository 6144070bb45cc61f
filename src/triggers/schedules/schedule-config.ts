/**
 * The schedules file (HERALD_SCHEDULES_FILE): which notifications go out on a timer, validated up front so a
 * bad entry stops Herald at start instead of failing silently at 09:00. Every problem names the schedule
 * (by id, or by position when the id itself is bad) and the field. Format reference: docs/schedules.md.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { notificationRequestSchema } from "../../delivery/notification-request";
import { cronPatternProblem } from "./slot-calendar";
import { isTimeZone } from "../../time-zone";

/** `timeZone: "recipient"` = run at the cron's wall time in each recipient's own zone. */
export const RECIPIENT_TIME_ZONE = "recipient";

/** Also used as the default opt-out category, so it stays within the category alphabet (minus the space). */
const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const requiredString = (name: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `${name} is required` : `${name} must be a string`) });

const scheduleSchema = z.object({
  id: requiredString("id").regex(SCHEDULE_ID, "id must be 1-64 letters, digits, _ . - and start with a letter or digit"),
  cron: requiredString("cron").superRefine((pattern, ctx) => {
    const problem = cronPatternProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
  timeZone: requiredString("timeZone").refine((zone) => zone === RECIPIENT_TIME_ZONE || isTimeZone(zone), {
    error: (issue) => `timeZone "${String(issue.input)}" is neither an IANA time zone (such as "Europe/Berlin") nor "recipient"`,
  }),
  /** false keeps the entry in the file but never runs it. */
  enabled: z.boolean({ error: "enabled must be true or false" }).optional(),
  notification: notificationRequestSchema
    .omit({ idempotencyKey: true })
    .extend({
      idempotencyKey: z.never({ error: "idempotencyKey is set by the scheduler (schedule:<id>:<slot>); remove it" }).optional(),
    }),
}, { error: (issue) => (issue.input === undefined ? "schedule is required" : "each schedule must be an object") }).strict();

const documentSchema = z.object({
  schedules: z.array(scheduleSchema, { error: "schedules must be a list" }),
}, { error: 'the file must hold an object: {"schedules": [...]}' }).strict();

export type ScheduleDefinition = z.infer<typeof scheduleSchema>;

export class ScheduleConfigError extends Error {
  override readonly name = "ScheduleConfigError";
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source} is invalid:\n  - ${problems.join("\n  - ")}`);
  }
}

/**
 * Validates an already-parsed schedules document (pure; `source` only labels the error). Throws
 * ScheduleConfigError listing every problem, e.g. `schedule "standup": timeZone "Europe/Berlinn" is ...`.
 */
export function parseSchedules(document: unknown, source = "schedules"): ScheduleDefinition[] {
  const result = documentSchema.safeParse(document);
  const problems = result.success ? [] : result.error.issues.map((issue) => describeIssue(issue, document));
  // Outside zod, so that duplicates are reported together with every other problem.
  problems.push(...duplicateIds(document).map((id) => `schedule "${id}": id: id "${id}" is used by more than one schedule`));
  if (problems.length || !result.success) throw new ScheduleConfigError(source, problems);
  return result.data.schedules;
}

function duplicateIds(document: unknown): string[] {
  const schedules = (document as { schedules?: unknown } | undefined)?.schedules;
  if (!Array.isArray(schedules)) return [];
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const schedule of schedules) {
    const id = (schedule as { id?: unknown } | undefined)?.id;
    if (typeof id !== "string") continue;
    if (seen.has(id)) duplicates.add(id);
    seen.add(id);
  }
  return [...duplicates];
}

/** Reads and validates a `.json`, `.yaml` or `.yml` schedules file. */
export async function loadSchedules(file: string): Promise<ScheduleDefinition[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ScheduleConfigError(file, [`cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  const extension = path.extname(file).toLowerCase();
  let document: unknown;
  try {
    if (extension === ".json") {
      document = JSON.parse(text);
    } else if (extension === ".yaml" || extension === ".yml") {
      // Loaded on demand so that a JSON-only deployment does not need the yaml package.
      const yaml = await import("yaml");
      document = yaml.parse(text);
    } else {
      throw new ScheduleConfigError(file, ["must end in .json, .yaml or .yml"]);
    }
  } catch (error) {
    if (error instanceof ScheduleConfigError) throw error;
    const format = extension === ".json" ? "JSON" : "YAML";
    throw new ScheduleConfigError(file, [`is not valid ${format} (${error instanceof Error ? error.message : String(error)})`]);
  }
  return parseSchedules(document, file);
}

/** `schedule "standup": notification.title: title must not be empty`. */
function describeIssue(issue: z.core.$ZodIssue, document: unknown): string {
  const [top, index, ...rest] = issue.path;
  const message = issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message;
  if (top !== "schedules" || typeof index !== "number") {
    return issue.path.length ? `${issue.path.join(".")}: ${message}` : message;
  }
  const where = rest.length ? `${rest.join(".")}: ` : "";
  return `${scheduleLabel(document, index)}: ${where}${message}`;
}

function scheduleLabel(document: unknown, index: number): string {
  const schedules = (document as { schedules?: unknown[] } | undefined)?.schedules;
  const id = (schedules?.[index] as { id?: unknown } | undefined)?.id;
  return typeof id === "string" && id.trim() ? `schedule "${id}"` : `schedules[${index}]`;
}
