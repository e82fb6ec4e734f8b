import { Alert, Card, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useAsync } from '../components/useAsync';
import { HardwareSummary } from '../components/HardwareSummary';
import { MonitorCharts } from '../components/MonitorCharts';
import { lastRun, peakDuring, useLiveMonitor } from '../components/live-monitor';

const gib = (mb: number): string => (mb / 1024).toFixed(1);

/**
 * Live CPU, memory and GPU at 1 Hz over the last five minutes, with the spans where generations and
 * benchmark cases ran, and the peak of the last run.
 */
export function MonitorPage(_props: PageProps): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  const { samples, spans } = useLiveMonitor();
  const last = samples.at(-1);
  const run = lastRun(spans);
  const peak = run ? peakDuring(samples, run) : null;

  return (
    <Stack>
      <Title order={2}>Monitor</Title>
      <Group gap="xl">
        <Text
          size="sm"
          data-testid="monitor-now"
          title="System CPU: every process's load over all logical cores. Engine process CPU: the engine's own CPU time on the same scale (part of the system figure)"
        >
          {last
            ? `system CPU (all cores) ${last.cpuPercent.toFixed(0)}%${last.processCpuPercent === null ? '' : ` · engine process CPU ${last.processCpuPercent.toFixed(0)}% of all cores`} · RAM ${gib(last.ramUsedMb)} / ${gib(last.ramTotalMb)} GiB · engine process ${last.processRssMb?.toFixed(0) ?? '–'} MB · GPU ${last.gpuPercent === null ? 'not reported' : `${last.gpuPercent}%`}${last.vramUsedMb === null ? '' : ` · VRAM ${last.vramUsedMb} MB`}`
            : 'waiting for the first sample…'}
        </Text>
      </Group>
      <Card withBorder data-testid="monitor-peak" padding="sm">
        {run && !peak ? (
          <Text size="sm">
            {run.label === 'the last generation' ? 'The last generation' : 'The last benchmark'} ran
            for {((run.end - run.start) / 1000).toFixed(0)} s, too briefly for a 1 Hz sample.
          </Text>
        ) : run && peak ? (
          <Text size="sm">
            Peak during {run.label}
            {run.open ? ' (still running)' : ''}: system CPU (all cores) {peak.cpu.toFixed(0)}%
            {peak.rssMb !== null && ` · engine process ${peak.rssMb.toFixed(0)} MB`}
            {peak.gpu !== null && ` · GPU ${peak.gpu}%`}
            {peak.vramMb !== null && ` · VRAM ${peak.vramMb} MB`} ·{' '}
            {((run.end - run.start) / 1000).toFixed(0)} s
          </Text>
        ) : (
          <Text size="sm" c="dimmed">
            No run seen yet: generate an image (Alt+1) or run the wizard (Alt+2) and its span and
            peak appear here. Shaded spans on the charts mark generations (teal), benchmark cases
            (violet) and variant builds (orange).
          </Text>
        )}
      </Card>
      <MonitorCharts samples={samples} spans={spans} />
      <Card withBorder>
        {hw.loading && <Loader size="sm" role="status" aria-label="detecting hardware" />}
        {hw.error && <Alert color="red">{hw.error}</Alert>}
        {hw.data && <HardwareSummary hw={hw.data} />}
      </Card>
    </Stack>
  );
}
