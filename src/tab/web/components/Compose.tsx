/**
 * Compose and send: the API's audiences (everyone, installations by kind, a team's members, a new thread in a
 * channel, chosen people, chosen chats and channels), title, text, link, category, card template — and a live
 * preview of the card exactly as the bot will send it.
 */
import { useEffect, useMemo, useState } from "react";
import {
  Button, Checkbox, Dropdown, Field, Input, MessageBar, MessageBarBody, Option, Radio, RadioGroup, Text, Textarea, makeStyles, tokens,
} from "@fluentui/react-components";
import type { Channel, ComposeRequest, Conversation, NotificationProgress, Page, Person } from "../../api-types";
import { Api, ApiFailure } from "../api";
import type { ThemeName } from "../host";
import { CardPreview } from "./CardPreview";
import { PeoplePicker } from "./PeoplePicker";

type AudienceKind = "all" | "installations" | "teamMembers" | "channelThread" | "users" | "conversations";
type Template = "notification" | "alert";

const AUDIENCES: Array<[AudienceKind, string]> = [
  ["all", "Everyone: every chat, group chat and team Herald is installed in"],
  ["installations", "Installations of some kinds"],
  ["teamMembers", "Every member of a team, each in their own chat"],
  ["channelThread", "A new post in a team's channel"],
  ["users", "Chosen people"],
  ["conversations", "Chosen group chats and teams"],
];
const KINDS: Array<[string, string]> = [["personal", "Personal chats"], ["groupChat", "Group chats"], ["channel", "Teams"]];

const useStyles = makeStyles({
  layout: { display: "grid", gap: tokens.spacingHorizontalXXL, gridTemplateColumns: "minmax(0, 1fr) minmax(0, 1fr)", "@media (max-width: 900px)": { gridTemplateColumns: "1fr" } },
  form: { display: "flex", flexDirection: "column", gap: tokens.spacingVerticalM },
  row: { display: "flex", gap: tokens.spacingHorizontalM, flexWrap: "wrap" },
  actions: { display: "flex", gap: tokens.spacingHorizontalM },
  fieldset: { border: `${tokens.strokeWidthThin} solid ${tokens.colorNeutralStroke2}`, borderRadius: tokens.borderRadiusMedium, display: "flex", flexDirection: "column", gap: tokens.spacingVerticalS },
});

export function Compose({ api, theme, onSent, onCancel }: { api: Api; theme: ThemeName; onSent: (id: string) => void; onCancel: () => void }) {
  const styles = useStyles();
  const [title, setTitle] = useState("");
  const [text, setText] = useState("");
  const [url, setUrl] = useState("");
  const [category, setCategory] = useState("");
  const [template, setTemplate] = useState<Template>("notification");
  const [severity, setSeverity] = useState("info");
  const [service, setService] = useState("");
  const [kind, setKind] = useState<AudienceKind>("all");
  const [types, setTypes] = useState<string[]>(["personal"]);
  const [teams, setTeams] = useState<Conversation[]>([]);
  const [chats, setChats] = useState<Conversation[]>([]);
  const [teamId, setTeamId] = useState("");
  const [channels, setChannels] = useState<Channel[]>([]);
  const [channelId, setChannelId] = useState("");
  const [people, setPeople] = useState<Person[]>([]);
  const [conversationKeys, setConversationKeys] = useState<string[]>([]);
  const [card, setCard] = useState<object>();
  const [error, setError] = useState<string>();
  const [sending, setSending] = useState(false);
  // One key per composed notification: a double click or a retry after a network error never sends it twice.
  const idempotencyKey = useMemo(() => crypto.randomUUID(), []);

  useEffect(() => {
    api.get<Page<Conversation>>("directory/conversations?kind=channel").then((p) => setTeams(p.items), () => setTeams([]));
    api.get<Page<Conversation>>("directory/conversations?kind=groupChat").then((p) => setChats(p.items), () => setChats([]));
  }, [api]);

  useEffect(() => {
    setChannels([]);
    setChannelId("");
    if (!teamId || kind !== "channelThread") return;
    api.get<Page<Channel>>(`directory/teams/${encodeURIComponent(teamId)}/channels`).then((p) => setChannels(p.items), (e: unknown) => setError(String((e as Error).message)));
  }, [api, teamId, kind]);

  const audience = useMemo((): Record<string, unknown> => {
    switch (kind) {
      case "all": return { kind };
      case "installations": return { kind, types };
      case "teamMembers": return { kind, teamId };
      case "channelThread": return { kind, teamId, ...(channelId && channelId !== teamId ? { channelId } : {}) };
      case "users": return { kind, users: people.map((p) => (p.aadObjectId ? { aadObjectId: p.aadObjectId } : { userId: p.userId })) };
      case "conversations": return { kind, conversationIds: conversationKeys };
    }
  }, [kind, types, teamId, channelId, people, conversationKeys]);

  const request = useMemo((): ComposeRequest => ({
    title: title.trim(),
    text: text.trim(),
    ...(url.trim() ? { url: url.trim() } : {}),
    ...(category.trim() ? { category: category.trim() } : {}),
    ...(template === "alert" ? { card: { template, data: { severity, service: service.trim() } } } : {}),
    audience,
  }), [title, text, url, category, template, severity, service, audience]);

  // The preview follows every keystroke, a moment later.
  useEffect(() => {
    const timer = setTimeout(() => {
      api.post<{ card: object }>("preview", request).then((r) => setCard(r.card), () => undefined);
    }, 150);
    return () => clearTimeout(timer);
  }, [api, request]);

  const send = async () => {
    setSending(true);
    setError(undefined);
    try {
      const created = await api.post<NotificationProgress>("notifications", { ...request, idempotencyKey });
      onSent(created.id);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    } finally {
      setSending(false);
    }
  };

  return (
    <div className={styles.layout}>
      <form className={styles.form} aria-labelledby="compose-heading" onSubmit={(e) => { e.preventDefault(); void send(); }}>
        <Text as="h2" size={500} weight="semibold" id="compose-heading">New notification</Text>
        <fieldset className={styles.fieldset}>
          <legend><Text weight="semibold">Who gets it</Text></legend>
          <RadioGroup value={kind} onChange={(_e, data) => setKind(data.value as AudienceKind)} aria-label="Audience">
            {AUDIENCES.map(([value, label]) => <Radio key={value} value={value} label={label} />)}
          </RadioGroup>
          {kind === "installations" && (
            <div className={styles.row} role="group" aria-label="Installation kinds">
              {KINDS.map(([value, label]) => (
                <Checkbox key={value} label={label} checked={types.includes(value)}
                  onChange={(_e, data) => setTypes((t) => (data.checked ? [...t, value] : t.filter((x) => x !== value)))} />
              ))}
            </div>
          )}
          {(kind === "teamMembers" || kind === "channelThread") && (
            <Field label="Team" required>
              <Dropdown placeholder="Choose a team" value={teams.find((t) => t.teamId === teamId)?.name ?? ""} selectedOptions={[teamId]}
                onOptionSelect={(_e, data) => setTeamId(data.optionValue ?? "")}>
                {teams.map((t) => <Option key={t.key} value={t.teamId ?? t.key}>{t.name ?? t.teamId ?? t.key}</Option>)}
              </Dropdown>
            </Field>
          )}
          {kind === "channelThread" && teamId && (
            <Field label="Channel">
              <Dropdown placeholder="General" value={channels.find((c) => c.id === channelId)?.name ?? ""} selectedOptions={[channelId]}
                onOptionSelect={(_e, data) => setChannelId(data.optionValue ?? "")}>
                {channels.map((c) => <Option key={c.id} value={c.id}>{c.name}</Option>)}
              </Dropdown>
            </Field>
          )}
          {kind === "users" && <PeoplePicker api={api} chosen={people} onChange={setPeople} />}
          {kind === "conversations" && (
            <div role="group" aria-label="Chats and teams">
              {[...teams, ...chats].map((c) => (
                <Checkbox key={c.key} label={`${c.name ?? c.key} (${c.kind === "channel" ? "team" : "group chat"})`} checked={conversationKeys.includes(c.key)}
                  onChange={(_e, data) => setConversationKeys((keys) => (data.checked ? [...keys, c.key] : keys.filter((k) => k !== c.key)))} />
              ))}
              {teams.length + chats.length === 0 && <Text>Herald is in no group chat or team yet.</Text>}
            </div>
          )}
        </fieldset>

        <Field label="Title" required hint="What happened, in a few words.">
          <Input value={title} onChange={(_e, data) => setTitle(data.value)} maxLength={300} />
        </Field>
        <Field label="Text" required hint="The result, and what the reader can do.">
          <Textarea value={text} onChange={(_e, data) => setText(data.value)} resize="vertical" rows={4} />
        </Field>
        <div className={styles.row}>
          <Field label="Link (optional)" hint="An Open button on the card.">
            <Input type="url" value={url} onChange={(_e, data) => setUrl(data.value)} placeholder="https://…" />
          </Field>
          <Field label="Category" hint="People can stop one category and keep the rest.">
            <Input value={category} onChange={(_e, data) => setCategory(data.value)} placeholder="general" />
          </Field>
        </div>
        <div className={styles.row}>
          <Field label="Card">
            <Dropdown value={template === "alert" ? "Alert" : "Notification"} selectedOptions={[template]} onOptionSelect={(_e, data) => setTemplate(data.optionValue as Template)}>
              <Option value="notification">Notification</Option>
              <Option value="alert">Alert</Option>
            </Dropdown>
          </Field>
          {template === "alert" && (
            <>
              <Field label="Severity">
                <Dropdown value={severity} selectedOptions={[severity]} onOptionSelect={(_e, data) => setSeverity(data.optionValue ?? "info")}>
                  {["info", "warning", "critical"].map((s) => <Option key={s} value={s}>{s}</Option>)}
                </Dropdown>
              </Field>
              <Field label="Service">
                <Input value={service} onChange={(_e, data) => setService(data.value)} />
              </Field>
            </>
          )}
        </div>
        {error && <MessageBar intent="error"><MessageBarBody>{error}</MessageBarBody></MessageBar>}
        <div className={styles.actions}>
          <Button appearance="primary" type="submit" disabled={sending || !title.trim() || !text.trim()}>{sending ? "Sending…" : "Send"}</Button>
          <Button onClick={onCancel}>Back</Button>
        </div>
      </form>
      <section aria-labelledby="preview-heading">
        <Text as="h2" size={500} weight="semibold" id="preview-heading" block>Preview</Text>
        <Text as="p" size={200}>The card as Herald will send it, rendered with the Adaptive Cards renderer.</Text>
        <CardPreview card={card} theme={theme} />
      </section>
    </div>
  );
}
