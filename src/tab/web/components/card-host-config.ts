/**
 * Adaptive Cards host configs that look like Teams' in its three themes, with text colours that keep WCAG AA
 * contrast on the card's background (including "subtle" text, which the footer uses).
 */
import type { ThemeName } from "../host";

interface Palette {
  background: string;
  emphasis: string;
  text: string;
  subtle: string;
  accent: string;
  attention: string;
  warning: string;
  good: string;
}

const PALETTES: Record<ThemeName, Palette> = {
  default: { background: "#FFFFFF", emphasis: "#F5F5F5", text: "#242424", subtle: "#5C5C5C", accent: "#4F52B2", attention: "#C4314B", warning: "#835C00", good: "#237B4B" },
  dark: { background: "#292929", emphasis: "#1F1F1F", text: "#FFFFFF", subtle: "#C7C7C7", accent: "#A6A7DC", attention: "#F9526B", warning: "#F8D22A", good: "#92C353" },
  contrast: { background: "#000000", emphasis: "#000000", text: "#FFFFFF", subtle: "#FFFFFF", accent: "#FFFF00", attention: "#FF0000", warning: "#FFFF00", good: "#3FF23F" },
};

const colors = (p: Palette) => ({
  default: { default: p.text, subtle: p.subtle },
  dark: { default: p.text, subtle: p.subtle },
  light: { default: p.text, subtle: p.subtle },
  accent: { default: p.accent, subtle: p.accent },
  good: { default: p.good, subtle: p.good },
  warning: { default: p.warning, subtle: p.warning },
  attention: { default: p.attention, subtle: p.attention },
});

export function hostConfigFor(theme: ThemeName): object {
  const p = PALETTES[theme];
  const style = (backgroundColor: string) => ({ backgroundColor, foregroundColors: colors(p) });
  return {
    fontFamily: "'Segoe UI', -apple-system, BlinkMacSystemFont, Roboto, 'Helvetica Neue', sans-serif",
    supportsInteractivity: true,
    spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
    separator: { lineThickness: 1, lineColor: theme === "default" ? "#E0E0E0" : "#5C5C5C" },
    fontSizes: { small: 12, default: 14, medium: 14, large: 18, extraLarge: 24 },
    fontWeights: { lighter: 300, default: 400, bolder: 600 },
    // A card's "heading" TextBlock sits under the preview's own h2.
    textBlock: { headingLevel: 3 },
    containerStyles: {
      default: style(p.background),
      emphasis: style(p.emphasis),
      accent: style(theme === "default" ? "#E8EBFA" : p.emphasis),
      attention: style(theme === "default" ? "#FCF4F6" : p.emphasis),
      warning: style(theme === "default" ? "#FBF6D9" : p.emphasis),
      good: style(theme === "default" ? "#E7F2DA" : p.emphasis),
    },
    actions: { maxActions: 6, spacing: "default", buttonSpacing: 8, showCard: { actionMode: "inline" }, actionsOrientation: "horizontal", actionAlignment: "left" },
  };
}
