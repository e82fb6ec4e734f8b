import { useEffect, useMemo, useState } from 'react';
import {
  Button,
  Checkbox,
  Group,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import type { RunDetail } from '../../../shared/bench-schemas';
import { RUN_STATUSES, type HistoryEntry } from '../../../shared/schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { useAsync } from '../components/useAsync';
import { RunDetailView } from '../components/RunDetailView';
import { CompareView } from '../components/CompareView';
import { TrendView } from '../components/TrendView';
import { EmptyState } from '../components/EmptyState';
import { RunStatusBadge } from '../components/RunStatusBadge';
import { navigate, onNavigate } from '../components/navigate';
import { notifyDone, notifyError } from '../components/notify';

interface Filters {
  model: string | null;
  kind: string | null;
  status: string | null;
  since: string;
}

function matches(run: HistoryEntry, f: Filters): boolean {
  return (
    (f.model === null || run.model === f.model) &&
    (f.kind === null || run.kind === f.kind) &&
    (f.status === null || run.status === f.status) &&
    (f.since === '' || run.startedAt.slice(0, 10) >= f.since)
  );
}

export function HistoryPage({ active }: PageProps): React.JSX.Element {
  const history = useAsync(() => studio.getHistory({ limit: 500 }));
  useReloadOnShow(active, history.reload);
  const [filters, setFilters] = useState<Filters>({
    model: null,
    kind: null,
    status: null,
    since: '',
  });
  const [detail, setDetail] = useState<RunDetail>();
  /** The runs ticked for comparison, oldest tick first (at most two). */
  const [picked, setPicked] = useState<number[]>([]);
  const [toDelete, setToDelete] = useState<HistoryEntry>();

  const open = (runId: number): void => {
    studio
      .getRun({ runId })
      .then(setDetail, (e: unknown) =>
        notifyError(`Could not open run #${runId}`, e, 'refresh the history and try again'),
      );
  };
  // "Open run #N in History" from the Gallery.
  useEffect(
    () =>
      onNavigate(({ page, runId }) => {
        if (page === 'history' && runId !== undefined) open(runId);
      }),
    [],
  );

  const runs = useMemo(() => history.data ?? [], [history.data]);
  const shown = runs.filter((r) => matches(r, filters));
  const models = useMemo(() => [...new Set(runs.map((r) => r.model))].sort(), [runs]);
  const trendRecipes = useMemo(
    () =>
      detail
        ? detail.recipes.map((r) => r.name)
        : ['baseline', 'dpm-fast', 'dpm-half', 'threads-physical'],
    [detail],
  );

  const toggle = (id: number, on: boolean): void =>
    setPicked((p) =>
      on ? [...p.filter((x) => x !== id), id].slice(-2) : p.filter((x) => x !== id),
    );

  const confirmDelete = async (): Promise<void> => {
    const run = toDelete;
    if (!run) return;
    setToDelete(undefined);
    try {
      const r = await studio.deleteRun({ runId: run.id });
      notifyDone(
        `Run #${run.id} deleted`,
        `Its figures and ${r.imagesRemoved} image file${r.imagesRemoved === 1 ? '' : 's'} were removed.`,
      );
      setPicked((p) => p.filter((x) => x !== run.id));
      if (detail?.id === run.id) setDetail(undefined);
      history.reload();
    } catch (e) {
      notifyError(`Could not delete run #${run.id}`, e);
    }
  };

  const set = <K extends keyof Filters>(key: K, value: Filters[K]): void =>
    setFilters((f) => ({ ...f, [key]: value }));
  const [a, b] = [...picked].sort((x, y) => x - y);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>History</Title>
        <Button variant="light" onClick={history.reload}>
          Refresh
        </Button>
      </Group>
      {history.error && (
        <EmptyState title="Could not read the history">
          {history.error} — the database may be damaged: `npm run cli -- repair-db` moves it aside.
        </EmptyState>
      )}
      {history.data && runs.length === 0 && (
        <EmptyState
          title="No runs yet"
          action="Run the wizard"
          onAction={() => navigate({ page: 'wizard' })}
          testId="history-empty"
        >
          Every generation and benchmark is recorded here. Generate an image (Alt+1) or let the
          Wizard measure a few recipes (Alt+2), then compare runs side by side.
        </EmptyState>
      )}
      {runs.length > 0 && (
        <Group align="end" data-testid="history-filters">
          <Select
            label="Model"
            placeholder="every model"
            data={models}
            value={filters.model}
            onChange={(v) => set('model', v)}
            clearable
            w={180}
          />
          <Select
            label="Kind"
            placeholder="every kind"
            data={[
              { value: 'generate', label: 'generations' },
              { value: 'bench', label: 'benchmarks' },
            ]}
            value={filters.kind}
            onChange={(v) => set('kind', v)}
            clearable
            w={160}
            data-testid="filter-kind"
          />
          <Select
            label="Status"
            placeholder="any status"
            data={[...RUN_STATUSES]}
            value={filters.status}
            onChange={(v) => set('status', v)}
            clearable
            w={150}
          />
          <TextInput
            label="Since"
            type="date"
            value={filters.since}
            onChange={(e) => set('since', e.currentTarget.value)}
            w={170}
          />
          <Text size="sm" c="dimmed">
            {shown.length} of {runs.length} runs · tick two benchmarks to compare them
          </Text>
        </Group>
      )}
      {shown.length > 0 && (
        <Table striped highlightOnHover data-testid="history-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Compare</Table.Th>
              <Table.Th>#</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Model</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Prompt / summary</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((run) => (
              <Table.Tr key={run.id} data-testid={`run-row-${run.id}`}>
                <Table.Td>
                  {run.kind === 'bench' && (
                    <Checkbox
                      aria-label={`compare run ${run.id}`}
                      checked={picked.includes(run.id)}
                      onChange={(e) => toggle(run.id, e.currentTarget.checked)}
                      data-testid={`pick-run-${run.id}`}
                    />
                  )}
                </Table.Td>
                <Table.Td>{run.id}</Table.Td>
                <Table.Td>{run.kind}</Table.Td>
                <Table.Td style={{ whiteSpace: 'nowrap' }}>
                  <RunStatusBadge status={run.status} />
                </Table.Td>
                <Table.Td>{run.model}</Table.Td>
                <Table.Td>{new Date(run.startedAt).toLocaleString()}</Table.Td>
                <Table.Td>
                  {run.summary}
                  {run.error && (
                    <Text
                      size="xs"
                      // A cancel's note ("generation cancelled") is no error: not in red.
                      c={run.status === 'cancelled' ? 'dimmed' : undefined}
                      style={
                        run.status === 'cancelled'
                          ? undefined
                          : {
                              color:
                                'light-dark(var(--mantine-color-red-9), var(--mantine-color-red-4))',
                            }
                      }
                    >
                      {run.error}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {run.kind === 'bench' && (
                      <Button
                        size="xs"
                        variant="light"
                        onClick={() => open(run.id)}
                        data-testid={`open-run-${run.id}`}
                      >
                        Open
                      </Button>
                    )}
                    <Button
                      size="xs"
                      variant="subtle"
                      onClick={() => navigate({ page: 'gallery', runId: run.id })}
                      aria-label={`images of run ${run.id}`}
                    >
                      Images
                    </Button>
                    <Button
                      size="xs"
                      variant="subtle"
                      color="red"
                      disabled={run.status === 'running'}
                      onClick={() => setToDelete(run)}
                      aria-label={`delete run ${run.id}`}
                      data-testid={`delete-run-${run.id}`}
                    >
                      Delete
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {runs.length > 0 && shown.length === 0 && (
        <EmptyState
          title="No run matches these filters"
          action="Clear filters"
          onAction={() => setFilters({ model: null, kind: null, status: null, since: '' })}
        />
      )}
      {picked.length === 1 && (
        <Text size="sm" c="dimmed">
          Run #{picked[0]} picked: tick another benchmark run to compare.
        </Text>
      )}
      {a !== undefined && b !== undefined && <CompareView key={`${a}-${b}`} a={a} b={b} />}
      {models.length > 0 && runs.some((r) => r.kind === 'bench') && (
        <TrendView models={models} recipes={trendRecipes} />
      )}
      {detail && <RunDetailView run={detail} />}
      <Modal
        opened={toDelete !== undefined}
        onClose={() => setToDelete(undefined)}
        title={`Delete run #${toDelete?.id ?? ''}?`}
        data-testid="delete-modal"
      >
        <Stack>
          <Text size="sm">
            The {toDelete?.kind === 'bench' ? 'benchmark' : 'generation'} run #{toDelete?.id} (
            {toDelete?.summary}), its figures and every image it wrote are removed from disk. This
            cannot be undone. Profiles saved from it stay.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setToDelete(undefined)}>
              Keep it
            </Button>
            <Button color="red" onClick={() => void confirmDelete()} data-testid="confirm-delete">
              Delete run and images
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
