/**
 * `npm run herald -- forget --user <Entra object id | UPN | Teams user id> [--tenant ID] [--json]`: erase what
 * Herald stores about one person (people/erase-person.ts), straight from the store — the same as
 * DELETE /api/people/{id}. Exit code 0 when something was erased, 3 when Herald held nothing about them.
 */
import { parseArgs } from "node:util";
import type { Logger } from "../logger";
import { erasePerson, parsePersonId } from "../people/erase-person";
import type { HeraldStore } from "../store/types";

export async function runForgetCommand(args: string[], store: HeraldStore, logger: Logger, out: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { user: { type: "string" }, tenant: { type: "string" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  if (!values.user) throw new Error("forget needs --user <Entra object id | UPN | Teams user id>");
  const ref = parsePersonId(values.user);
  if (!ref) throw new Error(`--user must be an Entra object id, a UPN / e-mail address or a Teams user id (got "${values.user}")`);
  const report = await erasePerson(store, { ref, ...(values.tenant ? { tenantId: values.tenant } : {}) }, logger);
  const erased = report.peopleRemoved + report.targetsRemoved + report.preferencesRemoved + report.deliveriesScrubbed > 0;
  if (values.json) {
    out(JSON.stringify(report));
  } else if (!erased) {
    out(`Herald holds nothing about ${values.user}${values.tenant ? ` in tenant ${values.tenant}` : ""}.`);
  } else {
    out(`erased ${values.user}: ${report.peopleRemoved} directory entries, ${report.targetsRemoved} personal installations, ` +
      `${report.preferencesRemoved} preferences, ${report.deliveriesScrubbed} past deliveries ` +
      `(${report.deliveriesCancelled} pending ones cancelled) across ${report.notificationsExamined} notifications`);
    if (report.notificationsNamingPerson.length > 0) {
      out(`  ${report.notificationsNamingPerson.length} notification request(s) named them in their audience (kept as sent): ${report.notificationsNamingPerson.slice(0, 20).join(", ")}`);
    }
  }
  return erased ? 0 : 3;
}
