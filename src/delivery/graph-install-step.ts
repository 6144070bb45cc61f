/**
 * installIfMissing, inside the job: the partition's owner installs Herald for a person through Microsoft Graph
 * (paced under Graph's own budget: rate-keys.ts `graphKeys`), records the 1:1 chat Graph returns on the delivery,
 * and queues the send. Nothing of this happens in the API request, which answers once the job is stored.
 *
 * Installing is idempotent (Graph answers 409 for an app already installed, and the installer then reads the
 * existing chat), so a crash or a handover mid-install only repeats it; the delivery stays `pending` throughout.
 */
import { departing, type DeliveryTask, type EngineContext } from "./engine-context";
import { settled } from "./delivery-outcome";
import { sendKeys } from "./rate-keys";

/** Graph failures worth trying again later (POST …/retry): the rest say something about the person or the app. */
const TRANSIENT_CODES = new Set(["throttled", "graphUnavailable", "timeout"]);

export async function installThroughGraph(ctx: EngineContext, task: DeliveryTask): Promise<void> {
  const aj = task.job;
  const d = task.delivery;
  const r = d.recipient;
  const settle = async (status: "skipped" | "failed", reason: string) => {
    if (await ctx.store.jobs.updateDelivery(aj.job.id, d.recipientKey, { status, reason }, "pending")) settled(ctx, task, { status, reason });
    ctx.release(aj, 1);
  };
  if (!ctx.installer) return settle("skipped", "unreachable: Graph install is not configured (TEAMS_APP_CATALOG_ID)");
  await ctx.dispatch.waitFor(task.plannedAt);
  departing(ctx, task);
  let installed: { chatId: string; status: string };
  try {
    installed = await ctx.installer.ensureInstalledForUser(r.installFor!);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    const transient = typeof code === "string" && TRANSIENT_CODES.has(code);
    return settle(transient ? "failed" : "skipped", `${transient ? "" : "unreachable: "}Graph install failed: ${message}`);
  }
  d.recipient = { ...r, conversationId: installed.chatId };
  d.reason = `Herald was installed for them through Microsoft Graph (${installed.status})`;
  if (!(await ctx.store.jobs.updateDelivery(aj.job.id, d.recipientKey, { recipient: d.recipient, reason: d.reason }, "pending"))) {
    return ctx.release(aj, 1); // cancelled meanwhile
  }
  if (aj.cancelled) return ctx.release(aj, 1);
  task.phase = "send";
  task.tenantId = r.tenantId;
  task.keys = sendKeys(r.tenantId, installed.chatId);
  task.notBefore = 0;
  ctx.queue.push(task, ctx.dispatch.now());
}
