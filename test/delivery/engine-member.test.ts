import assert from "node:assert/strict";
import type { DeliveryEngine } from "../../src/delivery/engine";
import type { ConnectorEmulator, SeededTenant } from "../../src/emulator";
import { MemoryStore } from "../../src/store/memory";
import { RecordingConnector, botConnector, newEngine, startEmulator } from "./support";

const TIME_SCALE = 0.1;

describe("delivery/engine getMember: one person's record under the engine's pacing", () => {
  let emulator: ConnectorEmulator;
  let serviceUrl: string;
  let tenant: SeededTenant;
  let connector: RecordingConnector;
  let engine: DeliveryEngine;

  beforeEach(async () => {
    ({ emulator, serviceUrl } = await startEmulator({ timeScale: TIME_SCALE }));
    tenant = emulator.seed({ tenantId: "t-member", users: 3, teams: [{ name: "Ops", memberCount: 3 }] });
    connector = new RecordingConnector(botConnector());
    engine = newEngine(new MemoryStore(), connector, { timeScale: TIME_SCALE });
  });
  afterEach(async () => {
    await engine.stop();
    await emulator.stop();
  });

  const user = () => tenant.users[1];
  const read = () => engine.getMember(serviceUrl, tenant.tenantId, user().personalConversationId, user().id);

  it("returns the member's UPN, e-mail and AAD object id", async () => {
    const member = await read();
    assert.equal(member.id, user().id);
    assert.equal(member.userPrincipalName, user().userPrincipalName);
    assert.equal(member.email, user().email);
    assert.equal(member.aadObjectId, user().aadObjectId);
  });

  it("keeps a burst of reads on one conversation within Teams' members windows (14 per second on one thread)", async () => {
    const members = await Promise.all(Array.from({ length: 20 }, read));
    assert.ok(members.every((m) => m.userPrincipalName === user().userPrincipalName));
    // When the engine let each request go (the connector is called only once the limiter admits it): never
    // more than 14 within one (scaled) second. Timer lateness only spreads them further apart.
    const started = connector.calls.filter((c) => c.op === "member").map((c) => c.at).sort((a, b) => a - b);
    assert.ok(started.length >= 20, "a stray 429 at a window edge is retried, also paced");
    const windowMs = 1000 * TIME_SCALE;
    const busiest = Math.max(...started.map((t) => started.filter((u) => u >= t && u < t + windowMs).length));
    assert.ok(busiest <= 14, `${busiest} reads started within ${windowMs} ms`);

    // Control: the same burst straight through the connector is throttled by Teams.
    emulator.reset();
    const direct = await Promise.allSettled(Array.from({ length: 20 }, () =>
      botConnector().getMember(serviceUrl, tenant.tenantId, user().personalConversationId, user().id)));
    assert.ok(direct.some((r) => r.status === "rejected"));
    assert.ok(emulator.stats().rateLimited > 0);
  });

  it("retries a 503 and a 429 like deliveries do, and fails at once on a 404", async () => {
    emulator.addFault({ match: { route: "members" }, status: 503, times: 1 });
    emulator.addFault({ match: { route: "members" }, status: 429, retryAfterSeconds: 0.05, times: 1 });
    assert.equal((await read()).id, user().id);
    assert.equal(connector.calls.filter((c) => c.op === "member").length, 3);

    const stranger = tenant.users[2];
    await assert.rejects(engine.getMember(serviceUrl, tenant.tenantId, user().personalConversationId, stranger.id),
      (err: { statusCode?: number }) => err.statusCode === 404);
    assert.equal(connector.calls.filter((c) => c.op === "member").length, 4, "a 404 is not retried");
  });
});
