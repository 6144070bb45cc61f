/** IANA time-zone check shared by config, install capture, audiences and schedules. */

const known = new Map<string, boolean>();

/** True when the runtime's ICU knows `zone` (e.g. "Europe/Berlin", "UTC"); that is also what croner needs. */
export function isTimeZone(zone: string): boolean {
  let valid = known.get(zone);
  if (valid === undefined) {
    valid = check(zone);
    // Building an Intl.DateTimeFormat costs ~0.4 ms; every activity asks. The set of zones is small.
    if (known.size < 2000) known.set(zone, valid);
  }
  return valid;
}

function check(zone: string): boolean {
  if (!zone.trim()) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
