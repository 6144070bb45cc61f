/**
 * "My notifications": what this person received (title, when, where, the card's link) and their preferences —
 * one switch per category they have been sent, and one for everything — the same as stop/start in chat.
 */
import { useCallback, useEffect, useState } from "react";
import {
  Badge, Button, Card, CardHeader, Link, MessageBar, MessageBarBody, Spinner, Switch, Text, makeStyles, tokens,
} from "@fluentui/react-components";
import type { InboxItem, Page, Preferences } from "../../api-types";
import { Api, ApiFailure } from "../api";
import { describePlace, formatTime } from "../format";

const useStyles = makeStyles({
  layout: { display: "grid", gap: tokens.spacingHorizontalXXL, gridTemplateColumns: "minmax(0, 2fr) minmax(260px, 1fr)", "@media (max-width: 720px)": { gridTemplateColumns: "1fr" } },
  list: { display: "flex", flexDirection: "column", gap: tokens.spacingVerticalS, listStyleType: "none", padding: 0, margin: 0 },
  meta: { display: "flex", gap: tokens.spacingHorizontalS, flexWrap: "wrap", alignItems: "center", color: tokens.colorNeutralForeground2 },
  prefs: { display: "flex", flexDirection: "column", gap: tokens.spacingVerticalS },
  topics: {
    display: "flex", flexDirection: "column", alignItems: "flex-start", gap: tokens.spacingVerticalXS, margin: 0,
    padding: tokens.spacingHorizontalM, border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`, borderRadius: tokens.borderRadiusMedium,
  },
  hint: { color: tokens.colorNeutralForeground2 },
});

const REFRESH_MS = 15_000;

export function MyNotifications({ api }: { api: Api }) {
  const styles = useStyles();
  const [inbox, setInbox] = useState<Page<InboxItem>>();
  const [prefs, setPrefs] = useState<Preferences>();
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>("");

  const load = useCallback(async () => {
    try {
      const [first, preferences] = await Promise.all([api.get<Page<InboxItem>>("inbox?limit=50"), api.get<Preferences>("preferences")]);
      // Keep pages loaded with "Show older" when refreshing the newest.
      setInbox((current) => (current && current.items.length > first.items.length ? mergeNewest(first, current) : first));
      setPrefs(preferences);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
  }, [api]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const older = async () => {
    if (!inbox?.cursor) return;
    const next = await api.get<Page<InboxItem>>(`inbox?limit=50&cursor=${encodeURIComponent(inbox.cursor)}`);
    setInbox({ items: [...inbox.items, ...next.items], ...(next.cursor ? { cursor: next.cursor } : {}) });
  };

  const change = async (category: string, enabled: boolean) => {
    try {
      setPrefs(await api.put<Preferences>("preferences", { category, enabled }));
      setSaved(category === "*"
        ? enabled ? "You get Herald's notifications again." : "You won't get any notifications from Herald."
        : enabled ? `You get “${category}” again.` : `You won't get “${category}” any more.`);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
  };

  return (
    <div className={styles.layout}>
      <section aria-labelledby="received-heading">
        <Text as="h2" size={500} weight="semibold" id="received-heading" block>Notifications you received</Text>
        {error && <MessageBar intent="error"><MessageBarBody>{error}</MessageBarBody></MessageBar>}
        {!inbox && !error && <Spinner label="Loading…" />}
        {inbox && inbox.items.length === 0 && <Text as="p" className={styles.hint}>Nothing yet. Notifications Herald sends you, your chats and your teams appear here.</Text>}
        {inbox && inbox.items.length > 0 && (
          <ul className={styles.list} aria-label="Received notifications" data-testid="inbox">
            {inbox.items.map((item) => (
              <li key={item.id}>
                <Card>
                  <CardHeader
                    header={<Text as="h3" weight="semibold">{item.title}</Text>}
                    description={
                      <div className={styles.meta}>
                        <time dateTime={item.sentAt}>{formatTime(item.sentAt)}</time>
                        <span>· {describePlace(item.place)}</span>
                        <span>· from {item.triggeredBy}</span>
                        <Badge appearance="tint" color="informative">{item.category}</Badge>
                      </div>
                    }
                    action={item.url ? <Link href={item.url} target="_blank" rel="noopener noreferrer" aria-label={`Open ${item.title}`}>Open</Link> : undefined}
                  />
                </Card>
              </li>
            ))}
          </ul>
        )}
        {inbox?.cursor && <Button onClick={() => void older()}>Show older</Button>}
      </section>

      <section aria-labelledby="prefs-heading" className={styles.prefs}>
        <Text as="h2" size={500} weight="semibold" id="prefs-heading" block>What you get</Text>
        <Text as="p" className={styles.hint}>The same as saying “stop” or “start” to Herald in chat: a change here shows there, and the next notification follows it.</Text>
        {prefs && (
          <>
            <Switch
              label="Notifications from Herald"
              checked={!prefs.stoppedEverything}
              onChange={(_e, data) => void change("*", data.checked)}
            />
            {prefs.categories.length > 0 && (
              <fieldset aria-describedby="topics-hint" className={styles.topics}>
                <legend><Text weight="semibold">Topics</Text></legend>
                <Text as="p" id="topics-hint" size={200} className={styles.hint}>
                  {prefs.stoppedEverything ? "Everything is stopped; turning notifications back on resumes every topic." : "Switch off a topic to stop it."}
                </Text>
                {prefs.categories.map(({ category, stopped }) => (
                  <Switch
                    key={category}
                    label={category}
                    checked={!stopped && !prefs.stoppedEverything}
                    disabled={prefs.stoppedEverything}
                    onChange={(_e, data) => void change(category, data.checked)}
                  />
                ))}
              </fieldset>
            )}
          </>
        )}
        <div role="status" aria-live="polite"><Text size={200}>{saved}</Text></div>
      </section>
    </div>
  );
}

function mergeNewest(first: Page<InboxItem>, current: Page<InboxItem>): Page<InboxItem> {
  const seen = new Set(first.items.map((i) => i.id));
  return { items: [...first.items, ...current.items.filter((i) => !seen.has(i.id))], ...(current.cursor ? { cursor: current.cursor } : {}) };
}
