/**
 * TeamsFx's ConversationBot writes installations through a `ConversationReferenceStore`. This one writes into
 * Herald's target registry instead of TeamsFx's default file in TEMP (lost on every redeploy).
 *
 * TeamsFx 3.x's own file store skips a message-triggered capture (`overwrite: false`) as soon as its file
 * exists, so a conversation first seen through a message was never recorded. Here `overwrite: false` means
 * "insert when this key is absent", which is what the option promises.
 */
import type { ConversationReference } from "botbuilder";
import type { ConversationReferenceStore, ConversationReferenceStoreAddOptions as AddOptions, PagedData } from "@microsoft/teamsfx";
import { targetInputFromReference } from "../store/target-from-reference";
import type { TargetStore } from "../store/types";


export class TeamsFxReferenceStore implements ConversationReferenceStore {
  constructor(private readonly targets: TargetStore) {}

  async add(key: string, reference: Partial<ConversationReference>, options: AddOptions): Promise<boolean> {
    const input = targetInputFromReference(reference);
    if ("error" in input) return false;
    if (options.overwrite) {
      await this.targets.upsert(input);
      return true;
    }
    return this.targets.insertIfAbsent(input);
  }

  async remove(key: string, _reference?: Partial<ConversationReference>): Promise<boolean> {
    return this.targets.remove(key);
  }

  async list(pageSize = 100, continuationToken?: string): Promise<PagedData<Partial<ConversationReference>>> {
    const page = await this.targets.list({ status: "active" }, Math.min(Math.max(pageSize, 1), 1000), continuationToken || undefined);
    return { data: page.items.map((t) => t.reference), continuationToken: page.cursor ?? "" };
  }
}
