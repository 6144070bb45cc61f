import pino from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON lines on stdout. Anything that could carry a secret is redacted by path, so a stray
 * `log.info({ config })` cannot leak it.
 */
export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? "herald",
      level: options.level ?? "info",
      redact: {
        paths: [
          "*.botPassword", "*.apiKey", "*.password", "*.secret", "*.connectionString",
          "*.authorization", "*.headers.authorization", "req.headers.authorization", "config.*",
        ],
        censor: "[redacted]",
      },
    },
    options.destination,
  );
}

/** For tests: a logger that drops everything. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
