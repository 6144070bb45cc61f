/**
 * A real Herald logger (pino, with its redaction rules) whose JSON lines are kept in memory, so tests can read
 * what an operator would read — and check what must never be there.
 */
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/logger";

export interface CapturedLog {
  logger: Logger;
  /** Raw JSON lines, as written. */
  text(): string;
  entries(): Array<Record<string, unknown>>;
}

export function captureLog(level = "debug"): CapturedLog {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  const logger = createLogger({ level, destination });
  return {
    logger,
    text: () => lines.join("\n"),
    entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
