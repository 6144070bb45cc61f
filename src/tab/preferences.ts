/**
 * A person's preferences as the tab shows them: the same opt-outs as `stop` / `start` in chat and the card's
 * "Stop these" button (PreferenceStore), so a change in one place shows in the other and the engine honours it
 * from the next delivery on. In chat a person's key is their Entra object id, or their Teams user id when Teams
 * did not say; the tab reads and writes both, so every way in agrees.
 */
import type { HeraldStore } from "../store/types";
import type { Preferences } from "./api-types";
import type { TabPerson } from "./tab-identity";

export const EVERYTHING = "*";

type Store = Pick<HeraldStore, "preferences" | "members" | "inbox">;

/** The keys a person's opt-outs may be stored under: the object id, then the Teams user ids Herald knows. */
async function preferenceKeys(store: Store, person: TabPerson): Promise<string[]> {
  const member = await store.members.find({ aadObjectId: person.oid }, person.tid);
  return [...new Set([person.oid, ...(member ? [member.userId] : [])])];
}

export async function readPreferences(store: Store, person: TabPerson): Promise<Preferences> {
  const keys = await preferenceKeys(store, person);
  const [received, ...optOutLists] = await Promise.all([
    store.inbox.categories(person.tid, person.oid),
    ...keys.map((key) => store.preferences.list(person.tid, key)),
  ]);
  const stopped = new Set(optOutLists.flat().map((o) => o.category));
  const categories = [...new Set([...received, ...stopped])].filter((c) => c !== EVERYTHING).sort();
  return {
    stoppedEverything: stopped.has(EVERYTHING),
    categories: categories.map((category) => ({ category, stopped: stopped.has(category) })),
  };
}

/**
 * Stops or resumes one category, or everything ("*"). Stopping writes under the object id, as chat does when Teams
 * names the person's object id (every delivery to someone Herald knows by object id carries it); resuming clears
 * every key, so an old opt-out under the Teams user id cannot linger. Resuming everything clears every opt-out,
 * exactly like `start` in chat.
 */
export async function setPreference(store: Store, person: TabPerson, category: string, enabled: boolean): Promise<void> {
  if (!enabled) {
    await store.preferences.optOut(person.tid, person.oid, category);
    return;
  }
  const keys = await preferenceKeys(store, person);
  await Promise.all(keys.map((key) => store.preferences.optIn(person.tid, key, category)));
}
