import { strict as assert } from "node:assert";
import { Writable } from "node:stream";
import { readableLogLine } from "../src/dev/readable-logs";
import { createLogger } from "../src/logger";

describe("logs: JSON in production, readable under npm run dev", () => {
  it("Herald's logger writes one JSON object a line", () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    createLogger({ destination: sink }).info({ jobId: "j1", sent: 3 }, "delivery job finished");
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.msg, "delivery job finished");
    assert.equal(entry.level, 30);
  });

  it("npm run dev turns those lines into level, message and fields, and leaves other output alone", () => {
    const readable = readableLogLine({ colorize: false });
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 5, 9, 30), pid: 1, hostname: "h", name: "herald", msg: "store slow", jobId: "j1" });
    const shown = readable(line);
    assert.match(shown, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: store slow/);
    assert.match(shown, /jobId: "j1"/);
    assert.doesNotMatch(shown, /hostname|"level"/);
    assert.equal(readable("Agents Playground listening on 56150"), "Agents Playground listening on 56150");
    assert.equal(readable("{not json"), "{not json");
  });
});
