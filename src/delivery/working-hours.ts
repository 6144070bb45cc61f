/**
 * Working hours (`deliverWithin`): is a recipient's window open now, in their own zone, and if not, when does it
 * next open? The zone arithmetic is croner's (the next "HH:MM on these weekdays" in a zone, DST-correct, the same
 * rules schedules use) and Intl's (the local weekday and time of an instant); nothing here does offset maths.
 */
import { SlotCalendar } from "../triggers/schedules/slot-calendar";
import { isTimeZone } from "../time-zone";
import type { DeliveryWindow, Weekday } from "../store/types";

export const WEEKDAYS: readonly Weekday[] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const CACHE_LIMIT = 500;
const openings = new Map<string, SlotCalendar>();
const formats = new Map<string, Intl.DateTimeFormat>();

/** The zone a recipient's hours are read in: theirs when Teams reported a valid one, else the default. */
export function recipientZone(timeZone: string | undefined, defaultTimeZone: string): string {
  return timeZone && isTimeZone(timeZone) ? timeZone : defaultTimeZone;
}

/** Undefined when the window is open at `now` in `zone`; otherwise the instant (epoch ms) it next opens. */
export function nextOpening(window: DeliveryWindow, zone: string, now: number): number | undefined {
  if (isOpen(window, zone, now)) return undefined;
  const next = calendar(window, zone).next(new Date(now));
  if (!next) throw new Error(`the delivery window ${describeWindow(window)} never opens`);
  return next.getTime();
}

export function isOpen(window: DeliveryWindow, zone: string, now: number): boolean {
  const { weekday, minutes } = localTime(zone, now);
  return window.days.includes(weekday) && minutes >= toMinutes(window.start) && minutes < toMinutes(window.end);
}

/** "held until 09:00 Mon 9 Mar 2026 (America/New_York): outside the recipient's working hours (09:00-17:00 mon-fri)" */
export function holdReason(window: DeliveryWindow, zone: string, until: number): string {
  const when = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23", weekday: "short", day: "numeric", month: "short", year: "numeric",
  }).formatToParts(new Date(until));
  const part = (type: string) => when.find((p) => p.type === type)?.value ?? "";
  return `held until ${part("hour")}:${part("minute")} ${part("weekday")} ${part("day")} ${part("month")} ${part("year")} (${zone}): ` +
    `outside the recipient's working hours (${describeWindow(window)})`;
}

export function describeWindow(window: DeliveryWindow): string {
  return `${window.start}-${window.end} ${window.days.join(",")}`;
}

export function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h! * 60 + m!;
}

function calendar(window: DeliveryWindow, zone: string): SlotCalendar {
  const [hour, minute] = window.start.split(":").map(Number);
  const days = WEEKDAYS.filter((d) => window.days.includes(d)).map((d) => d.toUpperCase()).join(",");
  const pattern = `${minute} ${hour} * * ${days}`;
  const key = `${pattern}|${zone}`;
  let cal = openings.get(key);
  if (!cal) {
    if (openings.size >= CACHE_LIMIT) openings.delete(openings.keys().next().value!);
    openings.set(key, (cal = new SlotCalendar(pattern, zone)));
  }
  return cal;
}

function localTime(zone: string, now: number): { weekday: Weekday; minutes: number } {
  let format = formats.get(zone);
  if (!format) {
    if (formats.size >= CACHE_LIMIT) formats.delete(formats.keys().next().value!);
    format = new Intl.DateTimeFormat("en-US", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    formats.set(zone, format);
  }
  const parts = format.formatToParts(new Date(now));
  const value = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return { weekday: value("weekday").toLowerCase().slice(0, 3) as Weekday, minutes: Number(value("hour")) * 60 + Number(value("minute")) };
}
