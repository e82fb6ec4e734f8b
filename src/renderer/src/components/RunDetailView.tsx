import { Alert, Button, Card, Group, List, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { studio } from '../api/client';
import { download } from './download';
import type { RecipeOutcome, RunDetail } from '../../../shared/bench-schemas';
import { RecipeTable } from './RecipeTable';
import { ApplyAnywayModal } from './wizard/ApplyAnywayModal';
import { StoredImage } from './StoredImage';
import { RunStatusBadge } from './RunStatusBadge';

interface FindingLike {
  title?: string;
  detail?: string;
  severity?: string;
  suggestions?: string[];
}

/** A benchmark run: figures per recipe, findings, and the before/after gallery per prompt. */
export function RunDetailView({ run }: { run: RunDetail }): React.JSX.Element {
  const baseline = run.recipes[0];
  // A distilled recipe with different pixels can still be applied from the history, knowingly.
  const [applyAnyway, setApplyAnyway] = useState<RecipeOutcome | null>(null);
  return (
    <Stack data-testid="run-detail">
      <Group justify="space-between">
        <Title order={3}>
          Run #{run.id} · {run.model} <RunStatusBadge status={run.status} />
        </Title>
        <Group gap="xs">
          <Button
            size="xs"
            variant="light"
            onClick={() => void studio.exportRun({ runId: run.id, format: 'csv' }).then(download)}
          >
            Export CSV
          </Button>
          <Button
            size="xs"
            variant="light"
            onClick={() => void studio.exportRun({ runId: run.id, format: 'json' }).then(download)}
          >
            Export JSON
          </Button>
        </Group>
      </Group>
      {run.explanation && (
        <Alert color={run.recommended ? 'green' : 'yellow'}>{run.explanation}</Alert>
      )}
      {run.error && <Alert color="red">{run.error}</Alert>}
      <RecipeTable recipes={run.recipes} onApplyAnyway={setApplyAnyway} />
      <ApplyAnywayModal
        runId={run.id}
        recipe={applyAnyway}
        baseline={baseline}
        onClose={() => setApplyAnyway(null)}
      />
      {run.skipped && run.skipped.length > 0 && (
        <Text size="sm" c="dimmed" data-testid="skipped-recipes">
          Not measured: {run.skipped.map((x) => `${x.recipe} (${x.reason})`).join('; ')}
        </Text>
      )}
      {run.recipes.map((r) =>
        r.findings.length === 0 ? null : (
          <Card withBorder key={`f-${r.name}`}>
            <Text fw={500}>Findings for {r.name}</Text>
            <List size="sm">
              {(r.findings as FindingLike[]).map((f, i) => (
                <List.Item key={i}>
                  <b>{f.title}</b> — {f.detail}{' '}
                  {f.suggestions?.length ? `Try: ${f.suggestions.join('; ')}.` : ''}
                </List.Item>
              ))}
            </List>
          </Card>
        ),
      )}
      <Title order={4}>Before / after</Title>
      {baseline?.cases.map((c) => (
        <Card withBorder key={c.caseIndex}>
          <Text size="sm" fw={500}>
            {c.prompt}{' '}
            <Text span c="dimmed">
              seed {c.seed}
            </Text>
          </Text>
          <SimpleGrid cols={{ base: 2, md: 6 }} mt="xs">
            {run.recipes.map((r) => {
              const rc = r.cases.find((x) => x.caseIndex === c.caseIndex);
              if (!rc?.imagePath) return null;
              return (
                <Stack key={r.name} gap={2}>
                  <StoredImage path={rc.imagePath} alt={`${r.name}: ${c.prompt}`} h={128} />
                  <Text size="xs">
                    {r.name} · {rc.latencyMs.mean.toFixed(0)} ms
                    {rc.ssim !== null ? ` · SSIM ${rc.ssim.toFixed(3)}` : ''}
                  </Text>
                  {rc.heatmapPath && (
                    <Group gap={4}>
                      <StoredImage path={rc.heatmapPath} alt={`difference ${r.name}`} h={64} />
                      <Text size="xs" c="dimmed">
                        diff
                      </Text>
                    </Group>
                  )}
                </Stack>
              );
            })}
          </SimpleGrid>
        </Card>
      ))}
    </Stack>
  );
}
