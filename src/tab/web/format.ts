/** Small display helpers shared by the pages. */
import type { InboxItem } from "../api-types";

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
}

export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined) return "–";
  return perSecond >= 10 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

export function describePlace(place: InboxItem["place"]): string {
  switch (place.kind) {
    case "personal":
      return "Your chat with Herald";
    case "groupChat":
      return place.name ? `Group chat “${place.name}”` : "A group chat";
    case "channel":
      return place.name ? `Team ${place.name}` : "A team channel";
  }
}
