/**
 * One notification: its counts, who sent it, cancel, and the per-recipient report filtered by status and reason
 * (refreshed while it is being sent).
 */
import { useCallback, useEffect, useState } from "react";
import {
  Badge, Button, Dialog, DialogActions, DialogBody, DialogContent, DialogSurface, DialogTitle, DialogTrigger, Dropdown, Field, Input,
  MessageBar, MessageBarBody, Option, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Text, makeStyles, tokens,
} from "@fluentui/react-components";
import type { DeliveryRow, DeliveryStatus, NotificationProgress, Page } from "../../api-types";
import { Api, ApiFailure } from "../api";
import { formatTime } from "../format";

const STATUSES: DeliveryStatus[] = ["pending", "sent", "failed", "gone", "skipped", "cancelled"];
const REPORT_POLL_MS = 2000;

const useStyles = makeStyles({
  panel: {
    marginTop: tokens.spacingVerticalXL, padding: tokens.spacingHorizontalL, backgroundColor: tokens.colorNeutralBackground1,
    borderRadius: tokens.borderRadiusMedium, boxShadow: tokens.shadow4,
  },
  head: { display: "flex", alignItems: "center", gap: tokens.spacingHorizontalM, flexWrap: "wrap" },
  grow: { flexGrow: 1 },
  counts: { display: "flex", gap: tokens.spacingHorizontalL, flexWrap: "wrap", margin: `${tokens.spacingVerticalM} 0`, "& dd": { margin: 0 } },
  filters: { display: "flex", gap: tokens.spacingHorizontalL, flexWrap: "wrap", alignItems: "end", marginBottom: tokens.spacingVerticalM },
});

export function NotificationDetail({ api, progress, onChanged }: { api: Api; progress: NotificationProgress; onChanged: () => void }) {
  const styles = useStyles();
  const [status, setStatus] = useState<DeliveryStatus | "">("");
  const [reason, setReason] = useState("");
  const [report, setReport] = useState<Page<DeliveryRow>>();
  const [error, setError] = useState<string>();
  const [reasons, setReasons] = useState<string[]>([]);
  const running = progress.status === "queued" || progress.status === "running";

  const query = useCallback((cursor?: string) => {
    const params = new URLSearchParams({ limit: "100" });
    if (status) params.set("status", status);
    if (reason.trim()) params.set("reason", reason.trim());
    if (cursor) params.set("cursor", cursor);
    return api.get<Page<DeliveryRow>>(`notifications/${encodeURIComponent(progress.id)}/deliveries?${params}`);
  }, [api, progress.id, status, reason]);

  const load = useCallback(async () => {
    try {
      const page = await query();
      setReport(page);
      setReasons((known) => [...new Set([...known, ...page.items.map((d) => d.reason).filter((r): r is string => Boolean(r))])].sort());
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
  }, [query]);

  useEffect(() => {
    void load();
    if (!running) return undefined;
    const timer = setInterval(() => void load(), REPORT_POLL_MS);
    return () => clearInterval(timer);
  }, [load, running]);

  const more = async () => {
    if (!report?.cursor) return;
    const next = await query(report.cursor);
    setReport({ items: [...report.items, ...next.items], ...(next.cursor ? { cursor: next.cursor } : {}) });
  };

  const cancel = async () => {
    try {
      await api.post(`notifications/${encodeURIComponent(progress.id)}/cancel`, {});
      onChanged();
      void load();
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
  };

  const c = progress.counts;
  return (
    <section className={styles.panel} aria-labelledby="detail-heading" data-testid="detail">
      <div className={styles.head}>
        <Text as="h3" size={400} weight="semibold" id="detail-heading" className={styles.grow}>{progress.title}</Text>
        <Badge appearance="outline">{progress.category ?? "general"}</Badge>
        {running && (
          <Dialog>
            <DialogTrigger disableButtonEnhancement>
              <Button>Cancel sending</Button>
            </DialogTrigger>
            <DialogSurface>
              <DialogBody>
                <DialogTitle>Cancel “{progress.title}”?</DialogTitle>
                <DialogContent>What has not been sent yet will not be sent. Messages already delivered stay.</DialogContent>
                <DialogActions>
                  <DialogTrigger disableButtonEnhancement><Button>Keep sending</Button></DialogTrigger>
                  <DialogTrigger disableButtonEnhancement><Button appearance="primary" onClick={() => void cancel()}>Cancel sending</Button></DialogTrigger>
                </DialogActions>
              </DialogBody>
            </DialogSurface>
          </Dialog>
        )}
      </div>
      <Text as="p" size={200}>Sent by {progress.triggeredBy} · created {formatTime(progress.createdAt)}</Text>
      <dl className={styles.counts} aria-label="Counts">
        {([["Total", c.total], ["Sent", c.sent], ["Pending", c.pending], ["Failed", c.failed], ["Gone", c.gone], ["Skipped", c.skipped], ["Cancelled", c.cancelled], ["Throttled (429)", c.throttleRetries]] as const).map(([label, value]) => (
          <div key={label}><dt><Text size={200}>{label}</Text></dt><dd><Text weight="semibold" data-count={label.toLowerCase()}>{value}</Text></dd></div>
        ))}
      </dl>
      {error && <MessageBar intent="error"><MessageBarBody>{error}</MessageBarBody></MessageBar>}

      <Text as="h4" weight="semibold" block>Recipients</Text>
      <div className={styles.filters}>
        <Field label="Status">
          <Dropdown
            value={status || "Any status"}
            selectedOptions={[status]}
            onOptionSelect={(_e, data) => setStatus((data.optionValue ?? "") as DeliveryStatus | "")}
          >
            <Option value="">Any status</Option>
            {STATUSES.map((s) => <Option key={s} value={s}>{s}</Option>)}
          </Dropdown>
        </Field>
        <Field label="Reason contains">
          <Input value={reason} onChange={(_e, data) => setReason(data.value)} list="known-reasons" />
        </Field>
        <datalist id="known-reasons">{reasons.map((r) => <option key={r} value={r} />)}</datalist>
      </div>
      {report && (
        <Table aria-label="Recipients" size="small" data-testid="report">
          <TableHeader>
            <TableRow>
              <TableHeaderCell>Recipient</TableHeaderCell>
              <TableHeaderCell>Status</TableHeaderCell>
              <TableHeaderCell>Reason</TableHeaderCell>
              <TableHeaderCell>Attempts</TableHeaderCell>
              <TableHeaderCell>Updated</TableHeaderCell>
            </TableRow>
          </TableHeader>
          <TableBody>
            {report.items.map((d) => (
              <TableRow key={d.recipientKey} data-status={d.status}>
                <TableCell>{d.recipient}{d.kind !== "person" ? ` (${d.kind === "channel" ? "channel" : "group chat"})` : ""}</TableCell>
                <TableCell>{d.status}</TableCell>
                <TableCell>{d.reason ?? ""}</TableCell>
                <TableCell>{d.attempts}</TableCell>
                <TableCell><time dateTime={d.updatedAt}>{formatTime(d.updatedAt)}</time></TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {report && report.items.length === 0 && <Text as="p">No recipient matches.</Text>}
      {report?.cursor && <Button onClick={() => void more()}>Show more</Button>}
    </section>
  );
}
