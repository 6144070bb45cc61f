/**
 * Microsoft's guidance for a welcome message: say why the person gets it (where Herald was installed and by
 * whom), what Herald offers, and what to do next. The card (cards/templates/welcome.json) carries the last
 * two; this module words the first from what the install activity says.
 */
import type { Activity } from "botbuilder";
import { CardFactory } from "botbuilder";
import { renderTemplate } from "../cards/render";
import { channelData } from "./activity-info";

export function welcomeWhy(activity: Partial<Activity>): { why: string; where: string } {
  const by = activity.from?.name;
  const kind = activity.conversation?.conversationType;
  if (kind === "channel") {
    const team = channelData(activity).team?.name;
    const teamLabel = team ? `the team ${team}` : "this team";
    return { why: `${by ? `${by} added` : "Someone added"} Herald to ${teamLabel}, so I'll post its notifications in this channel.`, where: "this channel" };
  }
  if (kind === "groupChat") {
    return { why: `${by ? `${by} added` : "Someone added"} Herald to this group chat, so I'll post its notifications here.`, where: "this chat" };
  }
  return { why: "You're getting this because Herald was installed in your personal chat, so I can send you notifications directly.", where: "this chat" };
}

export function welcomeActivity(activity: Partial<Activity>): Partial<Activity> {
  const { why, where } = welcomeWhy(activity);
  // No per-person greeting: a personal welcome is then the same card for everyone and renders once.
  const card = renderTemplate("welcome", { why, where });
  return { type: "message", summary: "Welcome to Herald", attachments: [CardFactory.adaptiveCard(card)] };
}

export function helpActivity(): Partial<Activity> {
  return { type: "message", summary: "Herald help", attachments: [CardFactory.adaptiveCard(renderTemplate("help", {}))] };
}
