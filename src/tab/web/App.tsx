/**
 * The tab's frame: Teams theme (default, dark, high contrast; followed live), who is signed in, and the two
 * pages — "My notifications" for everyone, "Dashboard" for senders (loaded only for them).
 */
import { lazy, Suspense, useEffect, useMemo, useState } from "react";
import {
  FluentProvider, MessageBar, MessageBarBody, Spinner, Tab, TabList, Text, makeStyles, teamsDarkTheme, teamsHighContrastTheme,
  teamsLightTheme, tokens,
} from "@fluentui/react-components";
import type { Me } from "../api-types";
import { Api, ApiFailure } from "./api";
import type { Host, ThemeName } from "./host";
import { LocalPeople } from "./components/LocalPeople";
import { MyNotifications } from "./pages/MyNotifications";

const Dashboard = lazy(() => import("./pages/Dashboard"));

const THEMES = { default: teamsLightTheme, dark: teamsDarkTheme, contrast: teamsHighContrastTheme };

const useStyles = makeStyles({
  app: { minHeight: "100vh", backgroundColor: tokens.colorNeutralBackground3, color: tokens.colorNeutralForeground1 },
  header: {
    display: "flex", alignItems: "center", gap: tokens.spacingHorizontalXL, flexWrap: "wrap",
    padding: `${tokens.spacingVerticalS} ${tokens.spacingHorizontalXL}`,
    backgroundColor: tokens.colorNeutralBackground1, borderBottom: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`,
  },
  brand: { fontWeight: tokens.fontWeightSemibold, fontSize: tokens.fontSizeBase500 },
  who: { marginLeft: "auto", color: tokens.colorNeutralForeground2 },
  main: { padding: tokens.spacingHorizontalXL, maxWidth: "1200px", margin: "0 auto" },
});

type Page = "inbox" | "dashboard";

export function App({ host }: { host: Host }) {
  const [theme, setTheme] = useState<ThemeName>(host.theme);
  useEffect(() => host.onThemeChange(setTheme), [host]);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return (
    <FluentProvider theme={THEMES[theme]}>
      <Shell host={host} theme={theme} />
    </FluentProvider>
  );
}

function Shell({ host, theme }: { host: Host; theme: ThemeName }) {
  const styles = useStyles();
  const api = useMemo(() => new Api(host), [host]);
  const [me, setMe] = useState<Me>();
  const [problem, setProblem] = useState<string | undefined>(host.problem);
  const [page, setPage] = useState<Page>("inbox");

  useEffect(() => {
    if (host.kind === "none") return;
    api.get<Me>("me").then(setMe, (error: unknown) => setProblem(error instanceof ApiFailure ? error.message : String(error)));
  }, [api, host]);

  return (
    <div className={styles.app}>
      <header className={styles.header}>
        <Text as="h1" className={styles.brand}>Herald</Text>
        {me && (
          <TabList selectedValue={page} onTabSelect={(_e, data) => setPage(data.value as Page)} aria-label="Herald pages">
            <Tab value="inbox">My notifications</Tab>
            {me.isSender && <Tab value="dashboard">Dashboard</Tab>}
          </TabList>
        )}
        {me && <Text className={styles.who}>{me.name ?? me.upn ?? me.oid}{me.signedInWith === "local" ? " (local mode)" : ""}</Text>}
      </header>
      <main className={styles.main}>
        {problem && (
          <MessageBar intent={host.kind === "none" ? "info" : "error"}>
            <MessageBarBody>{problem}</MessageBarBody>
          </MessageBar>
        )}
        {host.kind === "none" && host.localMode && <LocalPeople />}
        {!me && !problem && <Spinner label="Signing in…" />}
        {me && page === "inbox" && <MyNotifications api={api} />}
        {me?.isSender && page === "dashboard" && (
          <Suspense fallback={<Spinner label="Loading the dashboard…" />}>
            <Dashboard api={api} theme={theme} />
          </Suspense>
        )}
      </main>
    </div>
  );
}
