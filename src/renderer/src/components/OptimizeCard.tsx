import { useEffect, useState } from 'react';
import { Alert, Button, Card, Group, Progress, Select, Table, Text, Title } from '@mantine/core';
import { studio } from '../api/client';
import { useAsync } from './useAsync';
import type { EventPayload, MethodOutput } from '../../../shared/api';

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Optimize a model in place of the command line: pick a model and a recipe, watch the worker's
 * progress, cancel, and read what each component became (size, the self-check's cosine).
 */
export function OptimizeCard({
  models,
  onDone,
}: {
  models: readonly string[];
  onDone: () => void;
}): React.JSX.Element {
  const recipes = useAsync(() => studio.listOptimizeRecipes());
  const [model, setModel] = useState<string | null>(null);
  const [recipe, setRecipe] = useState<string | null>('int8');
  const [jobId, setJobId] = useState<string>();
  const [progress, setProgress] = useState<EventPayload<'optimizeProgress'>>();
  const [result, setResult] = useState<MethodOutput<'optimizeModel'>>();
  const [error, setError] = useState<string>();

  useEffect(
    () =>
      studio.on('optimizeProgress', (p) => {
        if (p.jobId === jobId) setProgress(p);
      }),
    [jobId],
  );

  const chosen = recipes.data?.find((r) => r.name === recipe);
  const start = async (): Promise<void> => {
    if (!model || !recipe) return;
    const id = `optimize-${Date.now()}`;
    setJobId(id);
    setProgress(undefined);
    setResult(undefined);
    setError(undefined);
    try {
      setResult(await studio.optimizeModel({ model, recipe, jobId: id, force: true }));
      onDone();
    } catch (e) {
      setError(message(e));
    } finally {
      setJobId(undefined);
    }
  };

  return (
    <Card withBorder data-testid="optimize-card">
      <Title order={4}>Optimize a model</Title>
      <Text size="sm" c="dimmed" mb="xs">
        Writes a new variant next to your models (the source is never changed). Every component is
        checked against the source in ONNX Runtime before it is kept; the wizard measures whether it
        is faster.
      </Text>
      <Group align="end">
        <Select
          label="Model"
          data={[...models]}
          value={model}
          onChange={setModel}
          allowDeselect={false}
          w={260}
          searchable
          data-testid="optimize-model"
        />
        <Select
          label="Recipe"
          data={(recipes.data ?? []).map((r) => ({
            value: r.name,
            label: r.pays === 'gpu' ? `${r.name} (GPU)` : r.name,
          }))}
          value={recipe}
          onChange={setRecipe}
          allowDeselect={false}
          w={200}
          data-testid="optimize-recipe"
        />
        {jobId ? (
          <Button color="red" variant="light" onClick={() => void studio.cancelOptimize({ jobId })}>
            Cancel
          </Button>
        ) : (
          <Button
            onClick={() => void start()}
            disabled={!model || !recipe}
            data-testid="optimize-start"
          >
            Optimize
          </Button>
        )}
      </Group>
      {chosen && (
        <Text size="xs" c="dimmed" mt={4}>
          {chosen.description}
        </Text>
      )}
      {jobId && (
        <>
          <Progress value={(progress?.fraction ?? 0) * 100} mt="sm" animated />
          <Text size="xs" mt={4} data-testid="optimize-progress">
            {progress?.message ?? 'starting the optimizer…'}
          </Text>
        </>
      )}
      {error && (
        <Alert color="red" mt="sm" data-testid="optimize-error">
          {error}
        </Alert>
      )}
      {result && (
        <Table mt="sm" data-testid="optimize-result">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Component</Table.Th>
              <Table.Th>Transforms</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>Check (cosine vs source)</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {result.summary.map((c) => (
              <Table.Tr key={c.component}>
                <Table.Td>{c.component}</Table.Td>
                <Table.Td>
                  {c.transforms.length > 0 ? c.transforms.join(' + ') : 'unchanged'}
                </Table.Td>
                <Table.Td>
                  {mb(c.bytesBefore)} → {mb(c.bytesAfter)}
                </Table.Td>
                <Table.Td>{c.cosine === null ? '—' : c.cosine.toFixed(5)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}
