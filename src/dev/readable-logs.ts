/** `npm run dev` shows Herald's pino JSON lines as people read them (pino-pretty); other output passes as it is. */
import { prettyFactory } from "pino-pretty";

export function readableLogLine(options: { colorize: boolean }): (line: string) => string {
  const pretty = prettyFactory({ colorize: options.colorize, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,name" });
  return (line) => {
    if (!line.startsWith("{")) return line;
    try {
      return pretty(line).trimEnd();
    } catch {
      return line;
    }
  };
}
