import { Button, Group, SegmentedControl, Stack, Table, Text } from '@mantine/core';
import type { BenchPlanResult } from '../../../../shared/bench-schemas';

export const BUDGET_CHOICES = ['5', '15', '60'] as const;

const PHASE_WORDS: Record<BenchPlanResult['plan']['phases'][number]['name'], string> = {
  calibrate: 'Calibrate (one short image to time this model here)',
  build: 'Build the optimized variants not built yet',
  baseline: 'Measure your current settings',
  candidates: 'Measure each candidate beside them',
  stacks: 'Measure the best combination',
};

const minutes = (s: number): string =>
  s < 1
    ? `${Math.round(s * 1000)} ms`
    : s < 90
      ? `${Math.round(s)} s`
      : `${(s / 60).toFixed(1)} min`;

/**
 * How long the wizard may take, and what it predicts for this plan: the person picks the minutes,
 * the studio calibrates on this model and machine and fits the plan to them (bench/budget.ts).
 */
export function TimeBudget(props: {
  budget: string;
  onBudget: (b: string) => void;
  plan: BenchPlanResult['plan'] | undefined;
  predicting: boolean;
  onPredict: () => void;
  disabled: boolean;
}): React.JSX.Element {
  const { plan } = props;
  return (
    <Stack gap={6} data-testid="time-budget">
      <Group align="end">
        <Stack gap={2}>
          <Text size="sm" fw={500}>
            How long may it take?
          </Text>
          <SegmentedControl
            aria-label="Time budget in minutes"
            data={BUDGET_CHOICES.map((b) => ({ value: b, label: `${b} min` }))}
            value={props.budget}
            onChange={props.onBudget}
          />
        </Stack>
        <Button
          variant="light"
          onClick={props.onPredict}
          loading={props.predicting}
          disabled={props.disabled}
          data-testid="predict-time"
        >
          Predict the time
        </Button>
      </Group>
      {plan && (
        <Stack gap={4} data-testid="plan-prediction">
          <Text size="sm">
            Predicted <b>{minutes(plan.predictedSeconds)}</b> of your {minutes(plan.budgetSeconds)}:{' '}
            {plan.candidates.length} recipes on {plan.cases} prompt{plan.cases === 1 ? '' : 's'} ×{' '}
            {plan.repeats} repeat{plan.repeats === 1 ? '' : 's'}. One image here takes about{' '}
            {minutes(
              (plan.calibration.textEncoderMs +
                plan.calibration.unetStepMs * plan.calibration.steps +
                plan.calibration.vaeMs) /
                1000,
            )}{' '}
            ({plan.calibration.steps} steps of {Math.round(plan.calibration.unetStepMs)} ms).
          </Text>
          <Table withTableBorder fz="sm" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Phase</Table.Th>
                <Table.Th>Predicted</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {plan.phases
                .filter((p) => p.predictedSeconds > 0)
                .map((p) => (
                  <Table.Tr key={p.name}>
                    <Table.Td>{PHASE_WORDS[p.name]}</Table.Td>
                    <Table.Td>{minutes(p.predictedSeconds)}</Table.Td>
                  </Table.Tr>
                ))}
            </Table.Tbody>
          </Table>
          {plan.predictedSeconds > plan.budgetSeconds && (
            <Text size="sm" c="orange">
              Even the smallest plan does not fit: the run stops at the budget with what it has
              measured. Give it more time to compare more recipes.
            </Text>
          )}
          {plan.dropped.map((d) => (
            <Text key={d.recipe} size="xs" c="dimmed">
              {d.recipe}: left out — {d.reason}
            </Text>
          ))}
        </Stack>
      )}
    </Stack>
  );
}
