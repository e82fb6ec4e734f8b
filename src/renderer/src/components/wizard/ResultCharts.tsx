import { Card, Text } from '@mantine/core';
import { BarChart } from '@mantine/charts';
import {
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import type { RunDetail } from '../../../../shared/bench-schemas';
import type { QualityThresholds } from '../../../../shared/library-schemas';

const COLORS = ['gray.6', 'violet.6', 'teal.6', 'orange.6', 'blue.6', 'pink.6', 'lime.6', 'cyan.6'];

/** Mean latency per case, one bar per recipe: the baseline's bar is "before". */
export function CaseLatencyChart({ run }: { run: RunDetail }): React.JSX.Element {
  const measured = run.recipes.filter((r) => r.cases.length > 0);
  const cases = measured[0]?.cases ?? [];
  const data = cases.map((c) => ({
    case: `case ${c.caseIndex + 1}`,
    ...Object.fromEntries(
      measured.map((r) => [
        r.name,
        Math.round(r.cases.find((x) => x.caseIndex === c.caseIndex)?.latencyMs.mean ?? 0),
      ]),
    ),
  }));
  return (
    <Card withBorder data-testid="case-latency-chart">
      <Text fw={500}>Latency per case (ms per image, lower is better)</Text>
      <BarChart
        h={240}
        data={data}
        dataKey="case"
        withLegend
        series={measured.map((r, i) => ({
          name: r.name,
          color: COLORS[i % COLORS.length],
          label: i === 0 ? `${r.name} (before)` : r.name,
        }))}
      />
    </Card>
  );
}

interface Point {
  name: string;
  speedup: number;
  ssim: number;
}

/** Points no other point beats on both speed-up and SSIM, by speed-up. */
export function paretoFront(points: Point[]): Point[] {
  return points
    .filter(
      (p) =>
        !points.some(
          (q) =>
            q !== p &&
            q.speedup >= p.speedup &&
            q.ssim >= p.ssim &&
            (q.speedup > p.speedup || q.ssim > p.ssim),
        ),
    )
    .sort((a, b) => a.speedup - b.speedup);
}

/** Speed-up against quality, the Pareto front joined, the SSIM thresholds and "as fast as before". */
export function SpeedQualityScatter({
  run,
  thresholds,
}: {
  run: RunDetail;
  thresholds: QualityThresholds;
}): React.JSX.Element {
  const points: Point[] = run.recipes
    .filter((r) => r.status === 'ok' && r.speedup !== null)
    .map((r, i) => ({
      name: r.name,
      speedup: r.speedup ?? 1,
      // The baseline is the reference image: identical to itself.
      ssim: r.ssim ?? (i === 0 ? 1 : 0),
    }));
  const front = paretoFront(points);
  const minSsim = Math.min(thresholds.ssimOverOptimized - 0.05, ...points.map((p) => p.ssim));
  return (
    <Card withBorder data-testid="speed-quality-chart">
      <Text fw={500}>Speed against quality (up and right is better)</Text>
      <ResponsiveContainer width="100%" height={280}>
        <ComposedChart margin={{ top: 16, right: 24, bottom: 16, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="var(--mantine-color-default-border)" />
          <XAxis
            dataKey="speedup"
            type="number"
            name="speed-up"
            domain={['auto', 'auto']}
            tickFormatter={(v: number) => `${v.toFixed(2)}x`}
            stroke="var(--mantine-color-dimmed)"
            fontSize={11}
            label={{
              value: 'speed-up against the baseline',
              position: 'insideBottom',
              offset: -8,
              fontSize: 11,
              fill: 'var(--mantine-color-dimmed)',
            }}
          />
          <YAxis
            dataKey="ssim"
            type="number"
            name="SSIM"
            domain={[Math.max(0, Math.floor(minSsim * 20) / 20), 1]}
            stroke="var(--mantine-color-dimmed)"
            fontSize={11}
            width={48}
          />
          <Tooltip
            formatter={(v) => (typeof v === 'number' ? v.toFixed(3) : String(v))}
            contentStyle={{
              background: 'var(--mantine-color-body)',
              border: '1px solid var(--mantine-color-default-border)',
            }}
          />
          <Legend verticalAlign="top" height={24} />
          <ReferenceLine
            y={thresholds.ssimAcceptable}
            stroke="var(--mantine-color-green-6)"
            strokeDasharray="4 4"
            label={{ value: 'acceptable', fontSize: 10, fill: 'var(--mantine-color-green-6)' }}
          />
          <ReferenceLine
            y={thresholds.ssimOverOptimized}
            stroke="var(--mantine-color-red-6)"
            strokeDasharray="4 4"
            label={{ value: 'over-optimized', fontSize: 10, fill: 'var(--mantine-color-red-6)' }}
          />
          <ReferenceLine x={1} stroke="var(--mantine-color-dimmed)" strokeDasharray="2 2" />
          <Line
            data={front}
            dataKey="ssim"
            name="Pareto front"
            stroke="var(--mantine-color-violet-5)"
            dot={false}
            isAnimationActive={false}
            type="linear"
          />
          <Scatter
            data={points}
            name="recipes"
            fill="var(--mantine-color-teal-5)"
            isAnimationActive={false}
            label={{
              dataKey: 'name',
              position: 'top',
              fontSize: 10,
              fill: 'var(--mantine-color-text)',
            }}
          />
        </ComposedChart>
      </ResponsiveContainer>
    </Card>
  );
}

/** Each stacked tier's speed-up split into the strategies it composes (their log shares). */
export function ContributionChart({ run }: { run: RunDetail }): React.JSX.Element | null {
  const stacks = run.recipes.filter((r) => r.contributions && r.contributions.length > 0);
  if (stacks.length === 0) return null;
  const strategies = [
    ...new Set(stacks.flatMap((s) => s.contributions?.map((c) => c.recipe) ?? [])),
  ];
  const data = stacks.map((s) => ({
    // By name: two stacks can share a tier (stack-advanced and its distilled form stack-distilled).
    stack: `${s.name} ${s.speedup === null ? '' : `${s.speedup.toFixed(2)}x`}`.trim(),
    ...Object.fromEntries(
      (s.contributions ?? []).map((c) => [c.recipe, Math.round((c.share ?? 0) * 100)]),
    ),
  }));
  return (
    <Card withBorder data-testid="contribution-chart">
      <Text fw={500}>What each strategy contributes to the stacked tiers (% of the speed-up)</Text>
      <BarChart
        h={200}
        data={data}
        dataKey="stack"
        type="stacked"
        orientation="vertical"
        withLegend
        series={strategies.map((name, i) => ({ name, color: COLORS[(i + 1) % COLORS.length] }))}
      />
    </Card>
  );
}
