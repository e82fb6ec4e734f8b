import { Alert, Button, Card, Grid, Group, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { BarChart } from '@mantine/charts';
import type { RunDetail } from '../../../shared/bench-schemas';
import { studio } from '../api/client';
import { useAsync } from './useAsync';
import { download } from './download';
import { notifyError } from './notify';

const ms = (v: number | null): string => (v === null ? '–' : v.toFixed(0));

/** The comparison's SVG chart drawn onto a canvas and saved as PNG (same picture, raster). */
async function downloadPng(svg: string, filename: string): Promise<void> {
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(svg)))}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth * 2;
  canvas.height = img.naturalHeight * 2;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the chart could not be encoded as PNG');
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename.replace(/\.svg$/, '.png');
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function RunSummary({ run, side }: { run: RunDetail; side: 'A' | 'B' }): React.JSX.Element {
  return (
    <Card withBorder>
      <Text fw={600}>
        {side}: run #{run.id} · {run.model}
      </Text>
      <Text size="sm" c="dimmed">
        {new Date(run.startedAt).toLocaleString()} · {run.status} · {run.recipes.length} recipes
      </Text>
      <Text size="sm" mt={4}>
        {run.recommended ? `Recommended ${run.recommended}` : 'Kept the baseline'}
      </Text>
    </Card>
  );
}

/**
 * Two benchmark runs side by side: each run's summary, latency per recipe in both runs (chart and
 * table), B's speed-up over A per recipe and per case, memory and quality; export as SVG or PNG.
 */
export function CompareView({ a, b }: { a: number; b: number }): React.JSX.Element {
  const data = useAsync(() =>
    Promise.all([
      studio.compareRuns({ runA: a, runB: b }),
      studio.getRun({ runId: a }),
      studio.getRun({ runId: b }),
    ]),
  );
  if (data.error)
    return (
      <Alert color="red" title="Could not compare">
        {data.error} — pick two finished benchmark runs.
      </Alert>
    );
  if (!data.data) return <Loader size="sm" role="status" aria-label="comparing" />;
  const [c, runA, runB] = data.data;
  const exportSvg = (): Promise<void> =>
    studio.exportComparison({ runA: a, runB: b }).then(download);
  const exportPng = (): Promise<void> =>
    studio.exportComparison({ runA: a, runB: b }).then((f) => downloadPng(f.content, f.filename));
  const cases = [
    ...new Map(c.recipes.flatMap((r) => r.cases).map((x) => [x.caseIndex, x.prompt])),
  ].sort((x, y) => x[0] - y[0]);
  const withCases = c.recipes.filter((r) => r.cases.some((x) => x.speedup !== null));
  return (
    <Stack data-testid="compare">
      <Group justify="space-between">
        <Title order={3}>
          Run #{a} against run #{b}
        </Title>
        <Group gap="xs">
          <Button
            size="xs"
            variant="light"
            onClick={() => void exportSvg().catch((e: unknown) => notifyError('Export failed', e))}
          >
            Chart (SVG)
          </Button>
          <Button
            size="xs"
            variant="light"
            onClick={() => void exportPng().catch((e: unknown) => notifyError('Export failed', e))}
          >
            Chart (PNG)
          </Button>
        </Group>
      </Group>
      <Grid>
        <Grid.Col span={6}>
          <RunSummary run={runA} side="A" />
        </Grid.Col>
        <Grid.Col span={6}>
          <RunSummary run={runB} side="B" />
        </Grid.Col>
      </Grid>
      <Card withBorder data-testid="compare-chart">
        <Text fw={500}>Mean latency per recipe (ms per image, lower is better)</Text>
        <BarChart
          h={240}
          data={c.recipes.map((r) => ({
            recipe: r.name,
            [`#${a}`]: r.latencyA === null ? null : Math.round(r.latencyA),
            [`#${b}`]: r.latencyB === null ? null : Math.round(r.latencyB),
          }))}
          dataKey="recipe"
          withLegend
          series={[
            { name: `#${a}`, color: 'gray.6', label: `run #${a} (A)` },
            { name: `#${b}`, color: 'violet.6', label: `run #${b} (B)` },
          ]}
        />
      </Card>
      <Table striped data-testid="compare-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Recipe</Table.Th>
            <Table.Th>A (ms)</Table.Th>
            <Table.Th>B (ms)</Table.Th>
            <Table.Th>B faster by</Table.Th>
            <Table.Th>Memory B − A (MB)</Table.Th>
            <Table.Th>SSIM A</Table.Th>
            <Table.Th>SSIM B</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {c.recipes.map((r) => (
            <Table.Tr key={r.name}>
              <Table.Td>{r.name}</Table.Td>
              <Table.Td>{ms(r.latencyA)}</Table.Td>
              <Table.Td>{ms(r.latencyB)}</Table.Td>
              <Table.Td>
                {r.speedup === null ? 'only in one run' : `${r.speedup.toFixed(2)}x`}
              </Table.Td>
              <Table.Td>
                {r.memoryDeltaMb === null
                  ? '–'
                  : `${r.memoryDeltaMb >= 0 ? '+' : ''}${r.memoryDeltaMb.toFixed(0)}`}
              </Table.Td>
              <Table.Td>{r.ssimA === null ? '–' : r.ssimA.toFixed(3)}</Table.Td>
              <Table.Td>{r.ssimB === null ? '–' : r.ssimB.toFixed(3)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {withCases.length > 0 && (
        <Card withBorder data-testid="compare-cases">
          <Text fw={500}>Per case: how much faster B is than A (above 1: B faster)</Text>
          <BarChart
            h={220}
            data={cases.map(([index, prompt]) => ({
              case: `case ${index + 1}`,
              prompt,
              ...Object.fromEntries(
                withCases.map((r) => [
                  r.name,
                  Number((r.cases.find((x) => x.caseIndex === index)?.speedup ?? 0).toFixed(2)),
                ]),
              ),
            }))}
            dataKey="case"
            withLegend
            referenceLines={[{ y: 1, label: 'same speed', color: 'gray.6' }]}
            series={withCases.map((r, i) => ({
              name: r.name,
              color: ['gray.6', 'violet.6', 'teal.6', 'orange.6', 'blue.6'][i % 5],
            }))}
          />
        </Card>
      )}
    </Stack>
  );
}
