/**
 * Renders an Adaptive Card with the Adaptive Cards JS renderer, themed like Teams, inert (actions do nothing in
 * a preview). The card JSON comes from Herald (the bot's own template and footer).
 */
import { useEffect, useRef } from "react";
import * as AC from "adaptivecards";
import { makeStyles, tokens } from "@fluentui/react-components";
import type { ThemeName } from "../host";
import { hostConfigFor } from "./card-host-config";

const useStyles = makeStyles({
  frame: {
    border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke1}`, borderRadius: tokens.borderRadiusMedium,
    padding: tokens.spacingHorizontalM, backgroundColor: tokens.colorNeutralBackground1, overflowWrap: "anywhere",
  },
});

export function CardPreview({ card, theme }: { card: object | undefined; theme: ThemeName }) {
  const styles = useStyles();
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!host.current) return;
    if (!card) {
      host.current.replaceChildren();
      return;
    }
    const adaptive = new AC.AdaptiveCard();
    adaptive.hostConfig = new AC.HostConfig(hostConfigFor(theme));
    adaptive.onExecuteAction = () => undefined;
    adaptive.parse(card);
    const element = adaptive.render();
    host.current.replaceChildren(...(element ? [element] : []));
  }, [card, theme]);
  return <div ref={host} className={styles.frame} data-testid="card-preview" aria-label="Card preview" role="region" />;
}
