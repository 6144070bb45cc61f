/**
 * `npm run dev`: Herald with its embedded SQLite store plus Microsoft 365 Agents Playground pointed at it —
 * Teams offline, no Azure, no tenant, no secrets. Ctrl+C stops both. The tab opens in any browser in local mode.
 * Herald's JSON log lines are shown human-readable (pino-pretty) here only: in production they stay JSON, one
 * object a line.
 *
 *   --no-browser     don't open the Playground in a browser (headless machines)
 *   --port <n>       Herald's port (default 3978); the Playground listens on 56150
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { readableLogLine } from "./readable-logs";

const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1]) || Number(process.env.PORT) || 3978;
const playgroundPort = Number(process.env.PLAYGROUND_PORT) || 56150;
const root = path.resolve(__dirname, "..", "..", "..");
const playgroundCli = require.resolve("@microsoft/m365agentsplayground/cli.js", { paths: [root] });

const children: ChildProcess[] = [];

const readable = readableLogLine({ colorize: Boolean(process.stdout.isTTY) });

function run(name: string, command: string, commandArgs: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, commandArgs, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = (line: string) => `[${name}] ${readable(line)}`;
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) console.log(prefix(line));
    });
  }
  child.on("exit", (code, signal) => {
    console.log(prefix(`exited (${signal ?? code})`));
    shutdown(code ?? 0);
  });
  children.push(child);
  return child;
}

let stopping = false;
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

// Agents Playground signs nothing, so the bot must run without BOT_ID (it would answer 401 otherwise).
const heraldEnv = { ...process.env, PORT: String(port), BOT_ID: "", BOT_PASSWORD: "" };
run("herald", process.execPath, [path.join(root, "dist", "src", "index.js")], heraldEnv);

const playgroundEnv = { ...process.env, ...(args.includes("--no-browser") ? { TEAMSAPPTESTER_BROWSER: "none" } : {}) };
run("playground", process.execPath, [playgroundCli, "-p", String(playgroundPort), "-c", "msteams", "-e", `http://127.0.0.1:${port}/api/messages`], playgroundEnv);

console.log(`Herald: http://127.0.0.1:${port}   Agents Playground: http://localhost:${playgroundPort}`);
console.log(`Herald tab (local mode: you are whoever you name, a sender): http://127.0.0.1:${port}/tab/?as=<Entra object id or Teams user id>`);
console.log(`  — or open http://127.0.0.1:${port}/tab/ to pick someone Herald knows (install it in the Playground's personal chat first)`);
console.log(`Send a notification:  curl -X POST http://127.0.0.1:${port}/api/notifications -H 'content-type: application/json' -d '{"title":"Hello","text":"From Herald"}'`);
