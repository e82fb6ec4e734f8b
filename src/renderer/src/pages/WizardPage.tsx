import { useEffect, useState } from 'react';
import {
  Alert,
  Button,
  Card,
  Checkbox,
  Group,
  Loader,
  NumberInput,
  Progress,
  SegmentedControl,
  Select,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { BarChart } from '@mantine/charts';
import type { BenchProgress, BenchResult } from '../../../shared/bench-schemas';
import { ExecutionProviderSchema } from '../../../shared/schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { useAsync } from '../components/useAsync';
import { ModelSelect, useModelChoice } from '../components/ModelSelect';
import { HardwareSummary } from '../components/HardwareSummary';
import { RecipeTable } from '../components/RecipeTable';

type Priority = 'quality' | 'balance' | 'speed';
type Objective = 'latency' | 'throughput';
type Proposal = Awaited<ReturnType<typeof studio.proposeRecipes>>;

const newJobId = (): string => `wizard-${crypto.randomUUID()}`;

/** The optimization wizard: hardware, what matters, candidate recipes, measured, then a default profile. */
export function WizardPage(_props: PageProps): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  const choice = useModelChoice();
  const { model } = choice;
  const [priority, setPriority] = useState<Priority>('balance');
  const [objective, setObjective] = useState<Objective>('latency');
  const [repeats, setRepeats] = useState<number | string>(2);
  /** null: the best provider that works here (the service decides). */
  const [ep, setEp] = useState<string | null>(null);
  const [proposal, setProposal] = useState<Proposal>();
  const [selected, setSelected] = useState<string[]>([]);
  const [jobId, setJobId] = useState<string>();
  const [progress, setProgress] = useState<BenchProgress>();
  const [result, setResult] = useState<BenchResult>();
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();

  useEffect(() => {
    if (!model) return;
    let live = true;
    studio
      .proposeRecipes({ model, priority, objective })
      .then((p) => {
        if (!live) return;
        setProposal(p);
        setSelected(p.recipes.map((r) => r.name));
      })
      .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e)));
    return () => {
      live = false;
    };
  }, [model, priority, objective]);

  useEffect(() => studio.on('benchProgress', (p) => p.jobId === jobId && setProgress(p)), [jobId]);

  const run = async (): Promise<void> => {
    if (!model) return;
    const id = newJobId();
    setJobId(id);
    setError(undefined);
    setResult(undefined);
    setSaved(undefined);
    try {
      setResult(
        await studio.runBenchmark({
          model,
          recipes: selected,
          repeats: typeof repeats === 'number' ? repeats : 2,
          priority,
          objective,
          ep: ExecutionProviderSchema.safeParse(ep).data,
          jobId: id,
        }),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setJobId(undefined);
    }
  };

  const save = async (): Promise<void> => {
    if (!result) return;
    try {
      const p = await studio.saveProfile({ runId: result.runId });
      setSaved(`Saved "${p.name}" as the default profile for ${p.model}: Generate now uses it.`);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  const running = jobId !== undefined;
  const done = progress ? progress.recipeIndex * progress.caseCount + progress.caseIndex : 0;
  const total = progress ? progress.recipeCount * progress.caseCount : 1;

  return (
    <Stack>
      <Title order={2}>Optimization wizard</Title>
      <Card withBorder>
        <Title order={4}>1. Your hardware</Title>
        {hw.loading && <Loader size="sm" aria-label="detecting hardware" />}
        {hw.error && <Alert color="red">{hw.error}</Alert>}
        {hw.data && <HardwareSummary hw={hw.data} />}
      </Card>
      <Card withBorder>
        <Title order={4}>2. What matters</Title>
        <Group align="end" mt="xs">
          <ModelSelect {...choice} />
          <SegmentedControl
            value={priority}
            onChange={(v) => setPriority(v as Priority)}
            data={['quality', 'balance', 'speed']}
            aria-label="priority"
          />
          <SegmentedControl
            value={objective}
            onChange={(v) => setObjective(v as Objective)}
            data={['latency', 'throughput']}
            aria-label="objective"
          />
          <Select
            label="Provider"
            placeholder="best available"
            data={(hw.data?.providers ?? []).filter((p) => p.works).map((p) => p.name)}
            value={ep}
            onChange={setEp}
            clearable
            w={160}
          />
          <NumberInput
            label="Repeats per prompt"
            min={1}
            max={20}
            value={repeats}
            onChange={setRepeats}
            w={150}
          />
        </Group>
      </Card>
      <Card withBorder data-testid="wizard-candidates">
        <Title order={4}>3. Candidate recipes</Title>
        {proposal && (
          <Stack gap={6} mt="xs">
            <Text size="sm" c="dimmed">
              Hardware class: {proposal.hardwareClass}. The baseline always runs first; every other
              recipe is measured against it.
            </Text>
            {proposal.recipes.map((r) => (
              <Checkbox
                key={r.name}
                label={`${r.name} — ${r.title}`}
                description={r.description}
                checked={selected.includes(r.name)}
                disabled={r.name === 'baseline' || running}
                onChange={(e) => {
                  // Read the event now: React's currentTarget is gone by the time an updater runs.
                  const checked = e.currentTarget.checked;
                  setSelected((s) => (checked ? [...s, r.name] : s.filter((n) => n !== r.name)));
                }}
              />
            ))}
            {proposal.skipped.map((s) => (
              <Text key={s.recipe} size="xs" c="dimmed">
                {s.recipe}: skipped — {s.reason}
              </Text>
            ))}
          </Stack>
        )}
      </Card>
      <Card withBorder>
        <Title order={4}>4. Measure</Title>
        <Group mt="xs">
          <Button
            onClick={() => void run()}
            loading={running}
            disabled={!model || selected.length === 0}
            data-testid="run-benchmark"
          >
            Run benchmark
          </Button>
          {running && jobId && (
            <Button
              variant="light"
              color="red"
              onClick={() => void studio.cancelBenchmark({ jobId })}
            >
              Cancel
            </Button>
          )}
        </Group>
        {running && (
          <Stack gap={4} mt="sm">
            <Progress value={(100 * done) / total} animated aria-label="benchmark progress" />
            <Text size="sm" c="dimmed">
              {progress
                ? `${progress.recipe} (${progress.recipeIndex + 1}/${progress.recipeCount}) · prompt ${progress.caseIndex + 1}/${progress.caseCount} · ${progress.phase}`
                : 'starting…'}
            </Text>
          </Stack>
        )}
        {error && (
          <Alert color="red" mt="sm">
            {error}
          </Alert>
        )}
        {result && (
          <Stack mt="md" data-testid="wizard-result">
            <RecipeTable recipes={result.recipes} />
            <BarChart
              h={220}
              data={result.recipes
                .filter((r) => r.latencyMs)
                .map((r) => ({ recipe: r.name, ms: Math.round(r.latencyMs?.mean ?? 0) }))}
              dataKey="recipe"
              series={[{ name: 'ms', color: 'violet.6', label: 'ms per image' }]}
            />
            <Alert
              data-testid="wizard-answer"
              color={result.recommended ? 'green' : 'yellow'}
              title={
                result.recommended
                  ? `Recommended: ${result.recommended}`
                  : 'Keep the baseline: nothing was faster beyond the noise'
              }
            >
              {result.explanation}
            </Alert>
            <Group>
              <Button
                onClick={() => void save()}
                disabled={!result.recommended}
                data-testid="save-profile"
              >
                Save as default profile
              </Button>
              {saved && (
                <Text size="sm" c="green">
                  {saved}
                </Text>
              )}
            </Group>
          </Stack>
        )}
      </Card>
    </Stack>
  );
}
