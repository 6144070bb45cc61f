/**
 * Microsoft 365 Agents Playground, started headless for a test (see shared/PLAYGROUND.md): a temp working
 * directory for its devTools/ logs, a free port, and helpers to install the bot, talk to it and read what it
 * posted from the conversation stream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { activityText } from "./herald-fixture";

export interface PlaygroundMessage {
  conversationId: string;
  text?: string;
  attachments?: Array<{ contentType: string; content: any }>;
}

export interface PlaygroundConfig {
  tenantId: string;
  currentUser: { id: string; name: string; aadObjectId: string };
  personalChat: { id: string };
  groupChats: Array<{ id: string; name: string }>;
  teams: Array<{ id: string; name: string; channels: Array<{ id: string; name: string }> }>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export class Playground {
  readonly messages: PlaygroundMessage[] = [];
  private socket?: WebSocket;

  private constructor(private readonly child: ChildProcess, private readonly dir: string, readonly url: string) {}

  static async start(botEndpoint: string): Promise<Playground> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-playground-"));
    const cli = require.resolve("@microsoft/m365agentsplayground/cli.js");
    const child = spawn(process.execPath, [cli, "-p", String(await freePort()), "-c", "msteams", "-e", botEndpoint, "--dt"], {
      cwd: dir,
      env: { ...process.env, TEAMSAPPTESTER_BROWSER: "none" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`Agents Playground did not start: ${output}`)), 30_000);
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /Listening on (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once("exit", (code) => reject(new Error(`Agents Playground exited (${code}): ${output}`)));
    });
    const playground = new Playground(child, dir, `http://localhost:${port}`);
    await playground.connect(port);
    return playground;
  }

  private async connect(port: number): Promise<void> {
    this.socket = new WebSocket(`ws://localhost:${port}/_ws_conversation/v1/conversations/stream`);
    this.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.action === "createMessage" || frame.action === "updateMessage") {
        this.messages.push({ conversationId: frame.actionConversationId, text: frame.message?.text, attachments: frame.message?.attachments });
      }
    });
    await new Promise<void>((resolve, reject) => {
      this.socket!.once("open", () => resolve());
      this.socket!.once("error", reject);
    });
  }

  async config(): Promise<PlaygroundConfig> {
    const res = await fetch(`${this.url}/_internal/v1/testConfig`);
    return ((await res.json()) as { config: PlaygroundConfig }).config;
  }

  async install(conversationId: string): Promise<void> {
    await this.post(`/_debug/conversation/${encodeURIComponent(conversationId)}/installation`, {});
  }

  async say(conversationId: string, fromUserId: string, text: string): Promise<void> {
    await this.post(`/_conversation/v1/conversations/${encodeURIComponent(conversationId)}/messages`, { from: { id: fromUserId }, text, textFormat: "plain" });
  }

  /** Waits until the bot has posted a message matching `predicate` (the Playground delivers in the background). */
  async waitForMessage(predicate: (m: PlaygroundMessage) => boolean, what: string, timeoutMs = 15_000): Promise<PlaygroundMessage> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.find(predicate);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => [m.conversationId, cardText(m).slice(0, 80)]))}`);
  }

  private async post(route: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`Playground ${route} answered ${res.status}: ${await res.text()}`);
  }

  async stop(): Promise<void> {
    this.socket?.terminate();
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (this.child.exitCode === null) this.child.kill("SIGKILL");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** All text in a message, card text included, for matching. */
export function cardText(message: PlaygroundMessage): string {
  return activityText({ text: message.text, attachments: message.attachments });
}
