import { Badge, Card, Group, List, Stack, Text, Title } from '@mantine/core';
import type { RunDetail } from '../../../../shared/bench-schemas';

interface FindingLike {
  title?: string;
  detail?: string;
  severity?: string;
  suggestions?: string[];
  evidence?: { metric: string; value: number; threshold: number };
}

const fig = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** The diagnosis: each finding with the figure that triggered it and what to try. */
export function Findings({ run }: { run: RunDetail }): React.JSX.Element {
  const all = run.recipes.flatMap((r) =>
    (r.findings as FindingLike[]).map((f, i) => ({ recipe: r.name, key: `${r.name}-${i}`, f })),
  );
  return (
    <Card withBorder data-testid="findings">
      <Title order={4}>Findings</Title>
      {all.length === 0 ? (
        <Text size="sm" c="dimmed">
          No finding: no rule of the checklist (compute- or memory-bound, threads, VAE share,
          quality) was triggered by these figures.
        </Text>
      ) : (
        <Stack gap="xs" mt="xs">
          {all.map(({ recipe, key, f }) => (
            <div key={key}>
              <Group gap="xs">
                <Badge color={f.severity === 'warning' ? 'yellow' : 'blue'} variant="light">
                  {recipe}
                </Badge>
                <Text size="sm" fw={500}>
                  {f.title}
                </Text>
              </Group>
              <Text size="sm">{f.detail}</Text>
              {f.evidence && (
                <Text size="xs" c="dimmed">
                  Triggered by {f.evidence.metric} = {fig(f.evidence.value)} (threshold{' '}
                  {fig(f.evidence.threshold)})
                </Text>
              )}
              {f.suggestions && f.suggestions.length > 0 && (
                <List size="xs">
                  {f.suggestions.map((s) => (
                    <List.Item key={s}>{s}</List.Item>
                  ))}
                </List>
              )}
            </div>
          ))}
        </Stack>
      )}
    </Card>
  );
}
