/**
 * A client that is really somewhere else on the network: a Linux network namespace joined to this one by a veth
 * pair, with addresses on a private /30 (from 198.18.0.0/15, the range set aside for network tests). A request
 * from inside it reaches this host's side of the pair from a non-loopback address — what a caller on another
 * machine looks like to Herald. Needs `ip` (iproute2) and root (CAP_NET_ADMIN), as CI has.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const PREFIX = "herald-test-";

export class NetworkNamespace {
  private constructor(
    readonly name: string,
    private readonly hostLink: string,
    /** This host's end of the pair: what a client inside the namespace connects to. */
    readonly hostAddress: string,
    /** The client's address, as the server sees it. */
    readonly clientAddress: string,
  ) {}

  static async create(): Promise<NetworkNamespace> {
    await requireIp();
    await removeStale();
    const pid = process.pid;
    const block = await freeBlock(pid);
    const ns = new NetworkNamespace(`${PREFIX}${pid}`, `hh${pid}`, address(block, 1), address(block, 2));
    const peer = `hn${pid}`;
    await ns.remove(); // a namespace left by an earlier process with the same pid
    try {
      await ip("netns", "add", ns.name);
      await ip("link", "add", ns.hostLink, "type", "veth", "peer", "name", peer);
      await ip("link", "set", peer, "netns", ns.name);
      await ip("addr", "add", `${ns.hostAddress}/30`, "dev", ns.hostLink);
      await ip("link", "set", ns.hostLink, "up");
      await ip("netns", "exec", ns.name, "ip", "addr", "add", `${ns.clientAddress}/30`, "dev", peer);
      await ip("netns", "exec", ns.name, "ip", "link", "set", peer, "up");
    } catch (error) {
      await ns.remove();
      throw error;
    }
    return ns;
  }

  /** GET `url` from inside the namespace (node's fetch in a child process there). */
  async fetch(url: string): Promise<{ status: number; body: string }> {
    const script = "fetch(process.argv[1]).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))";
    const { stdout } = await ip("netns", "exec", this.name, process.execPath, "-e", script, url);
    return JSON.parse(stdout) as { status: number; body: string };
  }

  /** Deleting the namespace deletes its end of the pair, and with it ours; the second step is for half-made ones. */
  async remove(): Promise<void> {
    await ip("netns", "del", this.name).catch(() => undefined);
    await ip("link", "del", this.hostLink).catch(() => undefined);
  }
}

async function ip(...args: string[]): Promise<{ stdout: string }> {
  try {
    return await run("ip", args, { timeout: 15_000 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")} failed: ${(e.stderr || e.message).trim()}`);
  }
}

async function requireIp(): Promise<void> {
  try {
    await run("ip", ["-V"]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("this test builds a network namespace with the `ip` command, which is missing: install iproute2 (apt-get install -y iproute2)");
    }
    throw error;
  }
  if (process.getuid?.() !== 0) {
    throw new Error("this test builds a network namespace and a veth pair, which needs root (CAP_NET_ADMIN)");
  }
}

/** Namespaces of earlier test processes that died before their `after` ran. */
async function removeStale(): Promise<void> {
  const { stdout } = await ip("netns", "list");
  for (const name of stdout.split("\n").map((line) => line.split(" ")[0] ?? "")) {
    const pid = Number(name.startsWith(PREFIX) ? name.slice(PREFIX.length) : NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    await ip("netns", "del", name).catch(() => undefined);
    await ip("link", "del", `hh${pid}`).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A /30 of 198.18.0.0/15 that no interface here uses yet, chosen from the pid so parallel runs differ. */
async function freeBlock(pid: number): Promise<number> {
  const { stdout } = await ip("-o", "-4", "addr", "show");
  for (let i = 0; i < 32_768; i++) {
    const block = (pid + i) % 32_768;
    if (!stdout.includes(` ${address(block, 1)}/`) && !stdout.includes(` ${address(block, 2)}/`)) return block;
  }
  throw new Error("no free /30 in 198.18.0.0/15");
}

function address(block: number, host: 1 | 2): string {
  const n = (198 << 24 >>> 0) + (18 << 16) + block * 4 + host;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
