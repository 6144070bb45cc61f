/** The few words Herald understands in chat. Anything else gets a pointer to `help`. */
export type Command =
  | { name: "help" }
  | { name: "stop"; category: string }
  | { name: "start"; category: string }
  | { name: "status" }
  | { name: "unknown"; text: string };

/** `stop` alone means every notification ("*"); `stop weekly-digest` one category. */
export function parseCommand(text: string): Command {
  const words = text.trim().replace(/\s+/g, " ").split(" ");
  const verb = (words[0] ?? "").toLowerCase().replace(/[.!?]$/, "");
  const rest = words.slice(1).join(" ").trim();
  const category = !rest || /^(all|everything)$/i.test(rest) ? "*" : rest;
  switch (verb) {
    case "help": case "?": return { name: "help" };
    case "stop": case "unsubscribe": case "mute": return { name: "stop", category };
    case "start": case "subscribe": case "unmute": case "resume": return { name: "start", category };
    case "status": case "settings": return { name: "status" };
    default: return { name: "unknown", text };
  }
}

export function describeCategory(category: string): string {
  return category === "*" ? "any notification" : `notifications about “${category}”`;
}
