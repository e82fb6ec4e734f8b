import { useEffect, useState } from 'react';
import { Alert, Card, Group, Loader, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { LineChart } from '@mantine/charts';
import type { MonitorSample } from '../../../shared/schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useAsync } from '../components/useAsync';
import { HardwareSummary } from '../components/HardwareSummary';

const WINDOW = 60;

/** Live CPU, memory and GPU at 1 Hz while the page is open. */
export function MonitorPage(_props: PageProps): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  const [samples, setSamples] = useState<MonitorSample[]>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    const off = studio.on('monitorSample', (s) =>
      setSamples((prev) => [...prev.slice(-(WINDOW - 1)), s]),
    );
    studio
      .setMonitoring({ on: true })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      off();
      void studio.setMonitoring({ on: false });
    };
  }, []);

  const start = samples[0]?.t ?? 0;
  const data = samples.map((s) => ({
    t: `${Math.round((s.t - start) / 1000)}s`,
    cpu: Math.round(s.cpuPercent),
    gpu: s.gpuPercent ?? undefined,
    ram: Math.round(s.ramUsedMb),
    rss: s.processRssMb === null ? undefined : Math.round(s.processRssMb),
    vram: s.vramUsedMb ?? undefined,
  }));
  const last = samples.at(-1);

  return (
    <Stack>
      <Title order={2}>Monitor</Title>
      {error && <Alert color="red">{error}</Alert>}
      <Group>
        <Text size="sm" data-testid="monitor-now">
          {last
            ? `CPU ${last.cpuPercent.toFixed(0)}% · RAM ${(last.ramUsedMb / 1024).toFixed(1)} / ${(last.ramTotalMb / 1024).toFixed(1)} GiB · process RSS ${last.processRssMb?.toFixed(0) ?? '–'} MB · GPU ${last.gpuPercent === null ? 'n/a' : `${last.gpuPercent}%`}`
            : 'waiting for the first sample…'}
        </Text>
      </Group>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder>
          <Text fw={500}>Load (%)</Text>
          <LineChart
            h={200}
            data={data}
            dataKey="t"
            withDots={false}
            yAxisProps={{ domain: [0, 100] }}
            series={[
              { name: 'cpu', color: 'violet.6', label: 'CPU' },
              { name: 'gpu', color: 'teal.6', label: 'GPU' },
            ]}
          />
        </Card>
        <Card withBorder>
          <Text fw={500}>Memory (MB)</Text>
          <LineChart
            h={200}
            data={data}
            dataKey="t"
            withDots={false}
            series={[
              { name: 'ram', color: 'blue.6', label: 'RAM used' },
              { name: 'rss', color: 'orange.6', label: 'process RSS' },
              { name: 'vram', color: 'teal.6', label: 'VRAM' },
            ]}
          />
        </Card>
      </SimpleGrid>
      <Card withBorder>
        {hw.loading && <Loader size="sm" aria-label="detecting hardware" />}
        {hw.error && <Alert color="red">{hw.error}</Alert>}
        {hw.data && <HardwareSummary hw={hw.data} />}
      </Card>
    </Stack>
  );
}
