import { Badge, Progress, Stack, Table, Text } from '@mantine/core';
import type { BenchProgress } from '../../../../shared/bench-schemas';

export interface RecipeProgress {
  recipe: string;
  state: 'waiting' | 'building' | 'measuring' | 'done' | 'failed' | 'cancelled';
  caseIndex: number;
  caseCount: number;
  phase?: BenchProgress['phase'];
  message?: string;
  fraction?: number;
}

/** Folds progress events into one row per recipe (recipes appear as the runner reaches them). */
export function foldProgress(rows: RecipeProgress[], p: BenchProgress): RecipeProgress[] {
  const state: RecipeProgress['state'] =
    p.phase === 'prepare'
      ? 'building'
      : p.phase === 'failed'
        ? 'failed'
        : p.phase === 'cancelled'
          ? 'cancelled'
          : p.phase === 'done' && p.caseIndex + 1 >= p.caseCount
            ? 'done'
            : 'measuring';
  const row: RecipeProgress = {
    recipe: p.recipe,
    state,
    caseIndex: p.caseIndex,
    caseCount: p.caseCount,
    phase: p.phase,
    message: p.message,
    fraction: p.fraction,
  };
  const i = rows.findIndex((r) => r.recipe === p.recipe);
  // A recipe reached later means every earlier one finished.
  const settled = rows.map((r) =>
    r.recipe !== p.recipe && (r.state === 'measuring' || r.state === 'building')
      ? { ...r, state: 'done' as const }
      : r,
  );
  if (i >= 0) settled[i] = row;
  else settled.push(row);
  return settled;
}

/**
 * Once the run answers that it was cancelled: whatever was still being built or measured stopped
 * there (cancelled, not failed); finished and failed recipes keep what they were.
 */
export function cancelProgress(rows: RecipeProgress[]): RecipeProgress[] {
  return rows.map((r) =>
    r.state === 'building' || r.state === 'measuring' ? { ...r, state: 'cancelled' as const } : r,
  );
}

const STATE_COLOR: Record<RecipeProgress['state'], string> = {
  waiting: 'gray',
  building: 'orange',
  measuring: 'blue',
  done: 'green',
  failed: 'red',
  cancelled: 'gray',
};

export function RunProgress({
  rows,
  planned,
  last,
  cancelled = false,
}: {
  rows: RecipeProgress[];
  planned: string[];
  last?: BenchProgress;
  /** The run answered that it was cancelled: the bar stops and the line says where. */
  cancelled?: boolean;
}): React.JSX.Element {
  const all: RecipeProgress[] = [
    ...rows,
    ...planned
      .filter((name) => !rows.some((r) => r.recipe === name))
      .map((recipe) => ({ recipe, state: 'waiting' as const, caseIndex: 0, caseCount: 0 })),
  ];
  const total = last ? last.recipeCount * last.caseCount : 1;
  const done = last ? last.recipeIndex * last.caseCount + last.caseIndex : 0;
  return (
    <Stack gap="xs">
      <Progress
        value={(100 * done) / Math.max(1, total)}
        animated={!cancelled}
        aria-label="benchmark progress"
      />
      <Text size="sm" c="dimmed" data-testid="run-status">
        {cancelled
          ? `cancelled${last ? ` at ${last.recipe} (${last.recipeIndex + 1}/${last.recipeCount}) · case ${last.caseIndex + 1}/${last.caseCount}` : ' while the model was loaded and the run planned'}`
          : last
            ? `${last.recipe} (${last.recipeIndex + 1}/${last.recipeCount}) · case ${last.caseIndex + 1}/${last.caseCount} · ${last.phase}${last.message ? ` — ${last.message}` : ''}`
            : 'starting: loading the model and planning…'}
      </Text>
      <Table data-testid="run-progress">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Recipe</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Cases</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {all.map((r) => (
            <Table.Tr key={r.recipe}>
              <Table.Td>{r.recipe}</Table.Td>
              <Table.Td>
                <Badge color={STATE_COLOR[r.state]} variant="light">
                  {r.state === 'building'
                    ? `building variant ${Math.round((r.fraction ?? 0) * 100)}%`
                    : r.state === 'measuring'
                      ? (r.phase ?? 'measuring')
                      : r.state}
                </Badge>
              </Table.Td>
              <Table.Td>
                {r.caseCount > 0 ? (
                  <Progress
                    value={
                      (100 * (r.caseIndex + (r.state === 'done' || r.phase === 'done' ? 1 : 0))) /
                      r.caseCount
                    }
                    size="sm"
                    aria-label={`${r.recipe} cases`}
                  />
                ) : (
                  '–'
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
