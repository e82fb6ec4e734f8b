import { useState } from 'react';
import { Alert, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import type { RunDetail } from '../../../shared/bench-schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { useAsync } from '../components/useAsync';
import { RunDetailView } from '../components/RunDetailView';
import { download } from '../components/download';

const STATUS_COLOR = {
  running: 'blue',
  done: 'green',
  failed: 'red',
  interrupted: 'orange',
} as const;

export function HistoryPage({ active }: PageProps): React.JSX.Element {
  const history = useAsync(() => studio.getHistory({ limit: 200 }));
  useReloadOnShow(active, history.reload);
  const [detail, setDetail] = useState<RunDetail>();
  const [compareWith, setCompareWith] = useState<number>();
  const [error, setError] = useState<string>();

  const open = (runId: number): void => {
    setError(undefined);
    studio
      .getRun({ runId })
      .then(setDetail, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>History</Title>
        <Button variant="light" onClick={history.reload}>
          Refresh
        </Button>
      </Group>
      {(history.error ?? error) && <Alert color="red">{history.error ?? error}</Alert>}
      {history.data && history.data.length === 0 && <Text c="dimmed">No runs yet.</Text>}
      {history.data && history.data.length > 0 && (
        <Table striped highlightOnHover data-testid="history-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>#</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Model</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Prompt / summary</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {history.data.map((run) => (
              <Table.Tr key={run.id}>
                <Table.Td>{run.id}</Table.Td>
                <Table.Td>{run.kind}</Table.Td>
                <Table.Td>
                  <Badge color={STATUS_COLOR[run.status]}>{run.status}</Badge>
                </Table.Td>
                <Table.Td>{run.model}</Table.Td>
                <Table.Td>{new Date(run.startedAt).toLocaleString()}</Table.Td>
                <Table.Td>
                  {run.summary}
                  {run.error && (
                    <Text size="xs" c="red">
                      {run.error}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  {run.kind === 'bench' && (
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant="light"
                        onClick={() => open(run.id)}
                        data-testid={`open-run-${run.id}`}
                      >
                        Open
                      </Button>
                      <Button
                        size="xs"
                        variant={compareWith === run.id ? 'filled' : 'subtle'}
                        onClick={() => setCompareWith(run.id)}
                      >
                        {compareWith === run.id ? 'Compare base' : 'Set as compare base'}
                      </Button>
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {detail && compareWith !== undefined && compareWith !== detail.id && (
        <CompareLine key={`${compareWith}-${detail.id}`} a={compareWith} b={detail.id} />
      )}
      {detail && <RunDetailView run={detail} />}
    </Stack>
  );
}

function CompareLine({ a, b }: { a: number; b: number }): React.JSX.Element {
  const c = useAsync(() => studio.compareRuns({ runA: a, runB: b }));
  if (c.error) return <Alert color="red">{c.error}</Alert>;
  if (!c.data) return <Text size="sm">comparing…</Text>;
  return (
    <Alert
      title={
        <Group gap="xs">
          {`Run #${a} → run #${b}`}
          <Button
            size="compact-xs"
            variant="light"
            onClick={() => void studio.exportComparison({ runA: a, runB: b }).then(download)}
          >
            Chart (SVG)
          </Button>
        </Group>
      }
      data-testid="compare"
    >
      {c.data.recipes
        .filter((r) => r.speedup !== null)
        .map(
          (r) =>
            `${r.name}: ${r.speedup?.toFixed(2)}x${r.memoryDeltaMb !== null ? `, ${r.memoryDeltaMb >= 0 ? '+' : ''}${r.memoryDeltaMb.toFixed(0)} MB` : ''}`,
        )
        .join(' · ')}
    </Alert>
  );
}
