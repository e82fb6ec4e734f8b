import { Card, Group, SimpleGrid, Text } from '@mantine/core';
import {
  CartesianGrid,
  Line,
  LineChart,
  ReferenceArea,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { MonitorSample } from '../../../shared/schemas';
import { jobSpans, MONITOR_WINDOW_MS, type ActivitySpan } from './live-monitor';

const SPAN_COLOR: Record<ActivitySpan['kind'], string> = {
  generate: 'var(--mantine-color-teal-5)',
  bench: 'var(--mantine-color-violet-5)',
  build: 'var(--mantine-color-orange-5)',
};

interface Series {
  key: 'cpu' | 'engineCpu' | 'gpu' | 'ram' | 'rss' | 'vram';
  label: string;
  color: string;
}

/** Seconds relative to now (-300 … 0), so the window scrolls and spans line up with samples. */
function chartData(samples: MonitorSample[], now: number) {
  return samples.map((s) => ({
    x: Math.round((s.t - now) / 1000),
    cpu: Math.round(s.cpuPercent),
    engineCpu: s.processCpuPercent === null ? undefined : Math.round(s.processCpuPercent),
    gpu: s.gpuPercent ?? undefined,
    ram: Math.round(s.ramUsedMb),
    rss: s.processRssMb === null ? undefined : Math.round(s.processRssMb),
    vram: s.vramUsedMb ?? undefined,
  }));
}

function Chart({
  title,
  data,
  series,
  spans,
  jobs,
  now,
  domain,
  height,
  testId,
}: {
  title: string;
  data: ReturnType<typeof chartData>;
  series: Series[];
  spans: ActivitySpan[];
  jobs: ActivitySpan[];
  now: number;
  domain?: [number, number];
  height: number;
  testId: string;
}): React.JSX.Element {
  const minX = -MONITOR_WINDOW_MS / 1000;
  return (
    <Card withBorder data-testid={testId}>
      <Group justify="space-between">
        <Text fw={500}>{title}</Text>
        <Group gap="sm">
          {(['generate', 'bench', 'build'] as const).map((k) => (
            <Text key={k} size="xs">
              <span style={{ color: SPAN_COLOR[k] }} aria-hidden="true">
                ▮{' '}
              </span>
              {k === 'generate' ? 'generation' : k === 'bench' ? 'benchmark case' : 'variant build'}
            </Text>
          ))}
          {series.map((s) => (
            <Text key={s.key} size="xs">
              <span style={{ color: s.color }} aria-hidden="true">
                ━{' '}
              </span>
              {s.label}
            </Text>
          ))}
        </Group>
      </Group>
      <ResponsiveContainer width="100%" height={height}>
        <LineChart data={data} margin={{ top: 16, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--mantine-color-default-border)" />
          <XAxis
            dataKey="x"
            type="number"
            domain={[minX, 0]}
            ticks={[-300, -240, -180, -120, -60, 0]}
            tickFormatter={(v: number) => (v === 0 ? 'now' : `${v / 60} min`)}
            stroke="var(--mantine-color-dimmed)"
            fontSize={11}
          />
          <YAxis
            domain={domain ?? ['auto', 'auto']}
            stroke="var(--mantine-color-dimmed)"
            fontSize={11}
            width={48}
          />
          <Tooltip
            labelFormatter={(v) => `${String(v)} s`}
            contentStyle={{
              background: 'var(--mantine-color-body)',
              border: '1px solid var(--mantine-color-default-border)',
            }}
          />
          {/* One labelled area per job (a generation, a benchmark), its cases and builds as
              lighter, unlabelled areas inside it: labels stay readable however short each case. */}
          {jobs.map((s) => (
            <ReferenceArea
              key={s.key}
              x1={Math.max(minX, Math.round((s.start - now) / 1000) - 0.5)}
              x2={Math.min(0, Math.round(((s.open ? now : s.end) - now) / 1000) + 0.5)}
              fill={SPAN_COLOR[s.kind]}
              fillOpacity={0.12}
              stroke={SPAN_COLOR[s.kind]}
              strokeOpacity={0.5}
              ifOverflow="hidden"
              // Only jobs wide enough for their label get one (colour says the kind; see above).
              label={
                (s.end - s.start) / MONITOR_WINDOW_MS >= 0.08
                  ? {
                      value: s.label,
                      position: 'insideTopLeft',
                      fontSize: 10,
                      fill: 'var(--mantine-color-text)',
                    }
                  : undefined
              }
            />
          ))}
          {spans.map((s) => (
            <ReferenceArea
              key={s.key}
              x1={Math.max(minX, Math.round((s.start - now) / 1000) - 0.5)}
              x2={Math.min(0, Math.round(((s.open ? now : s.end) - now) / 1000) + 0.5)}
              fill={SPAN_COLOR[s.kind]}
              fillOpacity={0.1}
              ifOverflow="hidden"
            />
          ))}
          {series.map((s) => (
            <Line
              key={s.key}
              dataKey={s.key}
              name={s.label}
              stroke={s.color}
              dot={false}
              isAnimationActive={false}
              connectNulls
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </Card>
  );
}

/**
 * CPU/GPU load and memory over the last five minutes, with shaded, labelled spans where
 * generations, benchmark cases and variant builds ran.
 */
export function MonitorCharts({
  samples,
  spans,
  height = 220,
  compact = false,
}: {
  samples: MonitorSample[];
  spans: ActivitySpan[];
  height?: number;
  compact?: boolean;
}): React.JSX.Element {
  // The newest sample is "now" (no samples: nothing to draw, spans sit at the right edge).
  const now = samples.at(-1)?.t ?? spans.at(-1)?.end ?? 0;
  const data = chartData(samples, now);
  const jobs = jobSpans(spans);
  const gpu = samples.some((s) => s.gpuPercent !== null);
  const engineCpu = samples.some((s) => s.processCpuPercent !== null);
  const vram = samples.some((s) => s.vramUsedMb !== null);
  return (
    <SimpleGrid cols={compact ? 1 : { base: 1, lg: 2 }}>
      <Chart
        title="Load (%)"
        testId="monitor-load"
        data={data}
        now={now}
        spans={spans}
        jobs={jobs}
        height={height}
        domain={[0, 100]}
        series={[
          // os.cpus() tick deltas: every process on every logical core, not the engine alone.
          { key: 'cpu', label: 'system CPU (all cores)', color: 'var(--mantine-color-violet-5)' },
          // The engine's own CPU time on the same all-cores scale: the part of the system line
          // that is the engine (Linux reads it from /proc; elsewhere it is not drawn).
          ...(engineCpu
            ? [
                {
                  key: 'engineCpu' as const,
                  label: 'engine process CPU',
                  color: 'var(--mantine-color-orange-5)',
                },
              ]
            : []),
          ...(gpu
            ? [{ key: 'gpu' as const, label: 'GPU', color: 'var(--mantine-color-teal-5)' }]
            : []),
        ]}
      />
      <Chart
        title="Memory (MB)"
        testId="monitor-memory"
        data={data}
        now={now}
        spans={spans}
        jobs={jobs}
        height={height}
        series={[
          { key: 'ram', label: 'RAM used', color: 'var(--mantine-color-blue-5)' },
          { key: 'rss', label: 'engine process', color: 'var(--mantine-color-orange-5)' },
          ...(vram
            ? [{ key: 'vram' as const, label: 'VRAM', color: 'var(--mantine-color-teal-5)' }]
            : []),
        ]}
      />
    </SimpleGrid>
  );
}
