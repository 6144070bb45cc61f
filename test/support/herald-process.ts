/**
 * Herald as its own process (`src/index.ts` through tsx, the way `npm start` runs the build), for tests that
 * kill, restart and run several of them: SIGKILL, SIGTERM, several instances on one store.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");
const BUILT = path.join(ROOT, "dist", "src", "index.js");

/**
 * The build when it is newer than every source file (`npm test` builds first), else the sources through tsx: a
 * built Herald starts in a fraction of the time, which adds up over tests that start a dozen.
 */
function entryPoint(): string[] {
  const sources = path.join(ROOT, "src");
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= newestMtime(sources)) return [BUILT];
  return ["--import", "tsx", path.join(sources, "index.ts")];
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export interface HeraldProcess {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** JSON request against its API. */
  api<T = any>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export async function spawnHerald(env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<HeraldProcess> {
  const child = spawn(process.execPath, entryPoint(), {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", LOG_LEVEL: "info", BOT_ID: "", HERALD_API_KEY: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Herald did not start:\n${output}`)), options.timeoutMs ?? 30_000);
    const onData = () => {
      const line = output.split("\n").find((l) => l.includes("Herald listening"));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      resolve(JSON.parse(line).url);
    };
    child.stdout!.on("data", onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Herald exited (${code ?? signal}):\n${output}`));
    });
  });
  return {
    child, url, exited, output: () => output,
    async api(method, route, body) {
      const res = await fetch(`${url}${route}`, {
        method, headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body: parsed as never };
    },
  };
}

/** Sends `signal` and waits for the exit. */
export async function stopProcess(herald: HeraldProcess, signal: NodeJS.Signals = "SIGTERM") {
  if (herald.child.exitCode === null && herald.child.signalCode === null) herald.child.kill(signal);
  return herald.exited;
}
