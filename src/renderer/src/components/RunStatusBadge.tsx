import { Badge } from '@mantine/core';
import type { HistoryEntry } from '../../../shared/schemas';

type RunStatus = HistoryEntry['status'];

/** Cancelled is the person's choice, not a failure: neutral grey, never red. */
const STATUS_COLOR: Record<RunStatus, string> = {
  running: 'blue',
  done: 'green',
  failed: 'red',
  interrupted: 'orange',
  cancelled: 'gray',
};

/** A run's status, read whole ("cancelled", not "CANCEL…") however narrow its column. */
export function RunStatusBadge({ status }: { status: RunStatus }): React.JSX.Element {
  return (
    <Badge
      color={STATUS_COLOR[status]}
      data-testid="run-status-badge"
      styles={{
        root: { maxWidth: 'none', overflow: 'visible', flexShrink: 0 },
        label: { overflow: 'visible', textOverflow: 'clip' },
      }}
    >
      {status}
    </Badge>
  );
}
