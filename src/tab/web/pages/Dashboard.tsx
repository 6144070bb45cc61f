/**
 * The senders' dashboard: recent notifications with live progress (polled; counts, rate, ETA update without a
 * reload), the selected one's per-recipient report and cancel, and the composer.
 */
import { useCallback, useEffect, useState } from "react";
import { Button, MessageBar, MessageBarBody, Text, makeStyles, tokens } from "@fluentui/react-components";
import type { NotificationProgress, Page } from "../../api-types";
import { Api, ApiFailure } from "../api";
import type { ThemeName } from "../host";
import { Compose } from "../components/Compose";
import { NotificationList } from "../components/NotificationList";
import { NotificationDetail } from "../components/NotificationDetail";

const useStyles = makeStyles({
  toolbar: { display: "flex", alignItems: "center", gap: tokens.spacingHorizontalM, marginBottom: tokens.spacingVerticalM },
  grow: { flexGrow: 1 },
});

/** Faster while something is being sent, so progress moves in front of the sender. */
const ACTIVE_POLL_MS = 1000;
const IDLE_POLL_MS = 5000;

export default function Dashboard({ api, theme }: { api: Api; theme: ThemeName }) {
  const styles = useStyles();
  const [view, setView] = useState<"list" | "compose">("list");
  const [items, setItems] = useState<NotificationProgress[]>();
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();

  const refresh = useCallback(async () => {
    try {
      const page = await api.get<Page<NotificationProgress>>("notifications?limit=20");
      setItems(page.items);
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
  }, [api]);

  const active = items?.some((i) => i.status === "queued" || i.status === "running") ?? false;
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), active ? ACTIVE_POLL_MS : IDLE_POLL_MS);
    return () => clearInterval(timer);
  }, [refresh, active]);

  if (view === "compose") {
    return (
      <Compose
        api={api}
        theme={theme}
        onCancel={() => setView("list")}
        onSent={(id) => {
          setSelected(id);
          setView("list");
          void refresh();
        }}
      />
    );
  }

  const current = items?.find((i) => i.id === selected);
  return (
    <>
      <div className={styles.toolbar}>
        <Text as="h2" size={500} weight="semibold" className={styles.grow}>Recent notifications</Text>
        <Button appearance="primary" onClick={() => setView("compose")}>New notification</Button>
      </div>
      {error && <MessageBar intent="error"><MessageBarBody>{error}</MessageBarBody></MessageBar>}
      <NotificationList items={items} selected={selected} onSelect={setSelected} />
      {current && <NotificationDetail key={current.id} api={api} progress={current} onChanged={() => void refresh()} />}
    </>
  );
}
