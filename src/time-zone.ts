/** IANA time-zone check shared by config, install capture, audiences and schedules. */

/** True when the runtime's ICU knows `zone` (e.g. "Europe/Berlin", "UTC"); that is also what croner needs. */
export function isTimeZone(zone: string): boolean {
  if (!zone.trim()) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
