import { Badge, Button, Table, Text } from '@mantine/core';
import type { RecipeAdherence, RecipeOutcome } from '../../../shared/bench-schemas';

const VERDICT_COLOR: Record<string, string> = {
  recommended: 'green',
  faster: 'teal',
  baseline: 'gray',
  'no gain': 'gray',
  'no-gain': 'gray',
  'does-not-fit': 'red',
  slower: 'orange',
  degraded: 'yellow',
  'over-optimized': 'red',
  'different-pixels': 'violet',
  failed: 'red',
};

const VERDICT_TITLE: Record<string, string> = {
  'different-pixels':
    'draws the prompts as well as the baseline, faster, with different pixels: never picked automatically',
};

/** "15/16": cases whose image has every check right, of the cases whose prompt was understood. */
export const adherenceFraction = (a: RecipeAdherence | null | undefined): string =>
  a ? `${Math.round(a.allCorrect * a.cases)}/${a.cases}` : '–';

const num = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined ? '–' : v.toFixed(digits);

/**
 * One row per recipe: the measured figures and the verdict, failures with their reason. With
 * `onApplyAnyway`, a recipe judged `different-pixels` offers "Apply anyway" (the caller confirms).
 */
export function RecipeTable({
  recipes,
  onApplyAnyway,
}: {
  recipes: RecipeOutcome[];
  onApplyAnyway?: (recipe: RecipeOutcome) => void;
}): React.JSX.Element {
  // GPU memory only where a GPU reported it; prompt adherence only where prompts were understood.
  const gpu = recipes.some((r) => r.peakGpuMb !== null && r.peakGpuMb !== undefined);
  const adherence = recipes.some((r) => r.adherence);
  return (
    <Table striped data-testid="recipe-table">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Recipe</Table.Th>
          <Table.Th>Latency (ms)</Table.Th>
          <Table.Th>Speed-up (95% interval)</Table.Th>
          <Table.Th>Start-up (ms)</Table.Th>
          <Table.Th>Peak RSS (MB)</Table.Th>
          {gpu && <Table.Th>Peak GPU (MB)</Table.Th>}
          <Table.Th title="The engine process's CPU time over the measured runs, as a share of the physical cores (100% = every physical core busy throughout); not the system's load">
            engine process CPU (%)
          </Table.Th>
          <Table.Th>SSIM</Table.Th>
          <Table.Th>PSNR (dB)</Table.Th>
          {adherence && (
            <Table.Th title="cases whose image has the shape and colours the prompt asks for">
              Prompt adherence
            </Table.Th>
          )}
          <Table.Th>Verdict</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {recipes.map((r) => (
          <Table.Tr key={r.name}>
            <Table.Td>
              <Text size="sm" fw={500}>
                {r.name}
              </Text>
              <Text size="xs" c="dimmed">
                {r.title}
              </Text>
              {r.contributions && (
                <Text size="xs" c="dimmed">
                  {r.tier} tier:{' '}
                  {r.contributions
                    .map(
                      (c) =>
                        `${c.recipe} ${num(c.speedupAlone, 2)}x alone${c.share === null ? '' : `, ${Math.round(c.share * 100)}%`}`,
                    )
                    .join('; ')}
                </Text>
              )}
              {r.error && (
                <Text size="xs" c="red">
                  {r.error}
                </Text>
              )}
            </Table.Td>
            <Table.Td>
              {r.latencyMs ? `${num(r.latencyMs.mean)} ± ${num(r.latencyMs.std)}` : '–'}
            </Table.Td>
            <Table.Td>
              {r.speedup === null ? '–' : `${r.speedup.toFixed(2)}x`}
              {r.speedupCi && (
                <Text size="xs" c="dimmed">
                  {`${r.speedupCi[0].toFixed(2)}–${r.speedupCi[1].toFixed(2)}`}
                </Text>
              )}
            </Table.Td>
            <Table.Td title="session creation; time to first image below">
              {num(r.loadMs)}
              {r.firstImageMs !== undefined && r.firstImageMs !== null && (
                <Text size="xs" c="dimmed">
                  first image {num(r.firstImageMs)}
                </Text>
              )}
              {r.restartLoadMs !== undefined && (
                <Text size="xs" c="dimmed">
                  restart {num(r.restartLoadMs)}
                </Text>
              )}
            </Table.Td>
            <Table.Td>{num(r.peakRssMb)}</Table.Td>
            {gpu && <Table.Td>{num(r.peakGpuMb)}</Table.Td>}
            <Table.Td>{num(r.cpuPercent)}</Table.Td>
            <Table.Td>{num(r.ssim, 3)}</Table.Td>
            <Table.Td>{num(r.psnr, 1)}</Table.Td>
            {adherence && (
              <Table.Td data-testid={`adherence-${r.name}`}>
                {adherenceFraction(r.adherence)}
                {r.adherence && (
                  <Text size="xs" c="dimmed">
                    {`${Math.round(r.adherence.checksPassed * 100)}% of checks`}
                  </Text>
                )}
              </Table.Td>
            )}
            <Table.Td style={{ whiteSpace: 'nowrap' }}>
              <Badge
                color={VERDICT_COLOR[r.verdict] ?? 'gray'}
                // The verdict must be read whole ("degraded", not "DEGRAD…") in a narrow column.
                styles={{
                  root: { maxWidth: 'none', overflow: 'visible', flexShrink: 0 },
                  label: { overflow: 'visible', textOverflow: 'clip' },
                }}
              >
                {r.verdict}
              </Badge>
              {VERDICT_TITLE[r.verdict] && (
                <Text size="xs" c="dimmed" style={{ whiteSpace: 'normal' }}>
                  {VERDICT_TITLE[r.verdict]}
                </Text>
              )}
              {onApplyAnyway && r.verdict === 'different-pixels' && (
                <Button
                  size="xs"
                  variant="light"
                  color="orange"
                  mt={4}
                  onClick={() => onApplyAnyway(r)}
                  // Starts with the visible words (WCAG 2.5.3), then says which row it acts on.
                  aria-label={`Apply anyway… ${r.name}`}
                  data-testid={`apply-anyway-${r.name}`}
                >
                  Apply anyway…
                </Button>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
