import assert from "node:assert/strict";
import type { DeliveryEngine } from "../../src/delivery/engine";
import type { ConnectorEmulator } from "../../src/emulator";
import { MemoryStore } from "../../src/store/memory";
import { botConnector, newEngine, startEmulator } from "./support";

/**
 * KNOWN ISSUE — fails today; not part of `npm test` (the name does not end in .test.ts). Run it with
 *   npx mocha test/delivery/cold-start-429.repro.ts
 * and rename it to cold-start-429.test.ts once it passes.
 *
 * The limiter plans each window a margin (1%, at least 3 ms) wider than Teams' and assumes a request arrives
 * about when it was planned. The first request of a fresh connector does not: it builds the connector client
 * (a botbuilder turn) and opens a connection first, and arrives ~10 ms late — more than the margin. The request
 * the limiter plans exactly one window after it then arrives while the first is still inside Teams' window, and
 * Teams answers 429. So a burst on one thread right after start (a roster sync, a notification to one channel)
 * draws a 429 nearly every time. Real Teams adds a TLS handshake, tens of ms, to that first request.
 */
const TIME_SCALE = 1;

describe("known issue: the first burst after start draws a 429 at the first window edge", function () {
  this.timeout(60_000);
  let emulator: ConnectorEmulator;
  let engine: DeliveryEngine;

  afterEach(async () => {
    await engine.stop();
    await emulator.stop();
  });

  for (let run = 1; run <= 3; run++) {
    it(`16 roster reads of one team at once on a fresh engine draw no 429 (run ${run})`, async () => {
      let serviceUrl: string;
      ({ emulator, serviceUrl } = await startEmulator({ timeScale: TIME_SCALE, latencyMs: 5 }));
      const tenant = emulator.seed({ tenantId: "t-cold", users: 60, teams: [{ name: "Everyone", memberCount: 60 }] });
      engine = newEngine(new MemoryStore(), botConnector(), { timeScale: TIME_SCALE });
      await engine.start();
      await Promise.all(Array.from({ length: 16 }, () => engine.getPagedMembers(serviceUrl, tenant.tenantId, tenant.teams[0]!.id, 50)));
      const reads = emulator.requests({ route: "members" });
      const first = reads[0]!.at;
      assert.equal(emulator.stats().throttled, 0,
        `429s: ${emulator.stats().throttled}; arrivals after the first (ms): ${reads.map((r) => r.at - first).join(" ")}`);
    });
  }
});
