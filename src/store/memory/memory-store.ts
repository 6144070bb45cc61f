import type { HeraldStore } from "../types";
import { MemoryInboxStore } from "./memory-inbox";
import { MemoryJobStore } from "./memory-jobs";
import { MemoryMemberStore } from "./memory-members";
import { MemoryPreferenceStore } from "./memory-preferences";
import { MemoryScheduleRunStore } from "./memory-schedules";
import { MemoryTargetStore } from "./memory-targets";
import { MemoryWorkStore } from "./memory-work";

/**
 * Everything in process memory: for tests and `HERALD_STORE=memory`, and the reference semantics of the port
 * (the contract suite was written against it). Results are copies; nothing survives a restart.
 */
export class MemoryStore implements HeraldStore {
  readonly kind = "memory" as const;
  readonly targets = new MemoryTargetStore();
  readonly members = new MemoryMemberStore();
  readonly work = new MemoryWorkStore();
  readonly jobs = new MemoryJobStore(this.work);
  readonly preferences = new MemoryPreferenceStore();
  readonly schedules = new MemoryScheduleRunStore();
  readonly inbox = new MemoryInboxStore();
  private closed = false;

  async ping(): Promise<void> {
    if (this.closed) throw new Error("the memory store is closed");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
