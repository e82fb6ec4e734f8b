import { useEffect, useState } from 'react';
import { Alert, Card, Group, Select, Text } from '@mantine/core';
import { LineChart } from '@mantine/charts';
import { studio } from '../api/client';
import { errorText } from './notify';

type Trend = Awaited<ReturnType<typeof studio.getTrend>>;

/** One recipe's mean latency (and SSIM) on one model, run after run. */
export function TrendView({
  models,
  recipes,
}: {
  models: string[];
  recipes: string[];
}): React.JSX.Element {
  const [model, setModel] = useState<string | null>(models[0] ?? null);
  const [recipe, setRecipe] = useState<string | null>('baseline');
  const [trend, setTrend] = useState<Trend>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (!model || !recipe) return;
    let live = true;
    studio.getTrend({ model, recipe }).then(
      (t) => {
        if (!live) return;
        setTrend(t);
        setError(undefined);
      },
      (e: unknown) => live && setError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [model, recipe]);
  return (
    <Card withBorder data-testid="trend">
      <Group justify="space-between" align="end">
        <Text fw={500}>Trend: a recipe over time</Text>
        <Group>
          <Select label="Model" data={models} value={model} onChange={setModel} w={180} />
          <Select
            label="Recipe"
            data={recipes}
            value={recipe}
            onChange={setRecipe}
            searchable
            w={200}
            data-testid="trend-recipe"
          />
        </Group>
      </Group>
      {error && <Alert color="red">{error}</Alert>}
      {trend && trend.length === 0 && (
        <Text size="sm" c="dimmed">
          {recipe} has not been measured on {model} yet: run the Wizard with it.
        </Text>
      )}
      {trend && trend.length > 0 && (
        <LineChart
          h={200}
          mt="sm"
          data={trend.map((t) => ({
            run: `#${t.runId}`,
            ms: Math.round(t.latencyMean),
            ssim: t.ssim ?? undefined,
          }))}
          dataKey="run"
          withRightYAxis
          rightYAxisLabel="SSIM"
          yAxisLabel="ms"
          series={[
            { name: 'ms', color: 'violet.6', label: 'mean latency (ms)' },
            { name: 'ssim', color: 'teal.6', label: 'SSIM', yAxisId: 'right' },
          ]}
          withLegend
        />
      )}
    </Card>
  );
}
