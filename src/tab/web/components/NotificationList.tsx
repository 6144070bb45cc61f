/** Recent notifications with their live progress: status, a progress bar with counts, rate and ETA. */
import {
  Badge, Button, ProgressBar, Spinner, Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow, Text, makeStyles, tokens,
} from "@fluentui/react-components";
import type { NotificationProgress } from "../../api-types";
import { formatDuration, formatRate, formatTime } from "../format";

const STATUS_COLOR = { queued: "informative", running: "brand", completed: "success", failed: "danger", cancelled: "warning" } as const;

const useStyles = makeStyles({
  progress: { display: "flex", flexDirection: "column", gap: tokens.spacingVerticalXXS, minWidth: "160px" },
  selected: { backgroundColor: tokens.colorNeutralBackground1Selected },
  title: { textAlign: "left" },
});

export function NotificationList({ items, selected, onSelect }: {
  items: NotificationProgress[] | undefined;
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const styles = useStyles();
  if (!items) return <Spinner label="Loading notifications…" />;
  if (!items.length) return <Text as="p">No notifications yet. Choose “New notification” to send one.</Text>;
  return (
    <Table aria-label="Recent notifications" data-testid="notifications">
      <TableHeader>
        <TableRow>
          <TableHeaderCell>Notification</TableHeaderCell>
          <TableHeaderCell>Status</TableHeaderCell>
          <TableHeaderCell>Progress</TableHeaderCell>
          <TableHeaderCell>Rate</TableHeaderCell>
          <TableHeaderCell>Time left</TableHeaderCell>
          <TableHeaderCell>Created</TableHeaderCell>
        </TableRow>
      </TableHeader>
      <TableBody>
        {items.map((n) => (
          <TableRow key={n.id} className={n.id === selected ? styles.selected : undefined} data-notification={n.id} data-status={n.status}>
            <TableCell>
              <Button appearance="subtle" className={styles.title} aria-pressed={n.id === selected} onClick={() => onSelect(n.id)}>
                {n.title}
              </Button>
            </TableCell>
            <TableCell><Badge appearance="filled" color={STATUS_COLOR[n.status]}>{n.status}</Badge></TableCell>
            <TableCell>
              <div className={styles.progress}>
                <ProgressBar value={n.done} max={1} thickness="large" aria-label={`${n.title}: ${Math.round(n.done * 100)}% done`}
                  color={n.counts.failed > 0 ? "warning" : "brand"} />
                <Text size={200} data-testid="counts">
                  {n.counts.sent} sent of {n.counts.total}
                  {n.counts.failed ? ` · ${n.counts.failed} failed` : ""}
                  {n.counts.skipped ? ` · ${n.counts.skipped} skipped` : ""}
                  {n.counts.gone ? ` · ${n.counts.gone} gone` : ""}
                  {n.counts.cancelled ? ` · ${n.counts.cancelled} cancelled` : ""}
                </Text>
              </div>
            </TableCell>
            <TableCell>{formatRate(n.ratePerSecond)}</TableCell>
            <TableCell>{n.etaSeconds !== undefined ? formatDuration(n.etaSeconds) : "–"}</TableCell>
            <TableCell><time dateTime={n.createdAt}>{formatTime(n.createdAt)}</time></TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
