import { useEffect, useRef, useState } from 'react';
import {
  Alert,
  Button,
  Card,
  Checkbox,
  Grid,
  Group,
  Loader,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Stepper,
  Switch,
  Text,
  Title,
} from '@mantine/core';
import type {
  BenchPlanResult,
  BenchProgress,
  BenchResult,
  RecipeOutcome,
  RunDetail,
} from '../../../shared/bench-schemas';
import type { GalleryImage, QualityThresholds } from '../../../shared/library-schemas';
import { ExecutionProviderSchema } from '../../../shared/schemas';
import { isCancelled, studio } from '../api/client';
import type { PageProps } from './page-props';
import { useAsync } from '../components/useAsync';
import { ModelSelect, useModelChoice } from '../components/ModelSelect';
import { RecipeTable } from '../components/RecipeTable';
import { HardwareWords } from '../components/wizard/HardwareWords';
import {
  cancelProgress,
  foldProgress,
  RunProgress,
  type RecipeProgress,
} from '../components/wizard/RunProgress';
import {
  CaseLatencyChart,
  ContributionChart,
  SpeedQualityScatter,
} from '../components/wizard/ResultCharts';
import { Findings } from '../components/wizard/Findings';
import { TimeBudget } from '../components/wizard/TimeBudget';
import { ApplyProfile } from '../components/wizard/ApplyProfile';
import { ApplyAnywayModal } from '../components/wizard/ApplyAnywayModal';
import { BeforeAfter } from '../components/BeforeAfter';
import { QualityBadges } from '../components/QualityBadges';
import { MonitorCharts } from '../components/MonitorCharts';
import { closeOpenSpans, useLiveMonitor } from '../components/live-monitor';
import { errorText, notifyError } from '../components/notify';
import { navigate } from '../components/navigate';

type Priority = 'quality' | 'balance' | 'speed';
type Objective = 'latency' | 'throughput';
type Proposal = Awaited<ReturnType<typeof studio.proposeRecipes>>;

const newJobId = (): string => `wizard-${crypto.randomUUID()}`;

const formatDuration = (ms: number): string =>
  ms < 90_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`;

const PRIORITY_WORDS: Record<Priority, string> = {
  quality: 'the best-looking image that is still faster',
  balance: 'the knee of the speed/quality curve',
  speed: 'the fastest recipe that still passes the quality check',
};

/** The live monitor beside the running benchmark (samples only while the run step is shown). */
function LiveMonitorPanel(): React.JSX.Element {
  const { samples, spans } = useLiveMonitor();
  return <MonitorCharts samples={samples} spans={spans} height={150} compact />;
}

/**
 * The optimization wizard as a guided flow: hardware in plain words → goals → the plan (editable)
 * → the run, live → results and a default profile.
 */
export function WizardPage({ active }: PageProps): React.JSX.Element {
  const hw = useAsync(() => studio.getHardware());
  const choice = useModelChoice();
  const { model } = choice;
  const [step, setStep] = useState(0);
  const [priority, setPriority] = useState<Priority>('balance');
  const [objective, setObjective] = useState<Objective>('latency');
  const [repeats, setRepeats] = useState<number | string>(2);
  const [maxCases, setMaxCases] = useState<number | string>(3);
  const [stack, setStack] = useState(true);
  const [budget, setBudget] = useState<string>('15');
  const [plan, setPlan] = useState<BenchPlanResult['plan']>();
  const [predicting, setPredicting] = useState(false);
  /** null: the best provider that works here (the service decides). */
  const [ep, setEp] = useState<string | null>(null);
  const [proposal, setProposal] = useState<Proposal>();
  const [proposalError, setProposalError] = useState<string>();
  const [trend, setTrend] = useState<{ model: string; ms?: number }>();
  const [selected, setSelected] = useState<string[]>([]);
  const [jobId, setJobId] = useState<string>();
  const [rows, setRows] = useState<RecipeProgress[]>([]);
  const [last, setLast] = useState<BenchProgress>();
  const [latest, setLatest] = useState<GalleryImage>();
  const [thresholds, setThresholds] = useState<QualityThresholds>();
  /** A `different-pixels` recipe whose "Apply anyway" awaits confirmation. */
  const [applyAnyway, setApplyAnyway] = useState<RecipeOutcome | null>(null);
  const [result, setResult] = useState<BenchResult>();
  const [detail, setDetail] = useState<RunDetail>();
  const [runError, setRunError] = useState<string>();
  /** Cancel: asked for (the run stops at its next check), then answered by the run itself. */
  const [cancel, setCancel] = useState<'asked' | 'cancelled'>();
  const lastFetch = useRef('');

  useEffect(() => {
    if (!model) return;
    let live = true;
    studio.proposeRecipes({ model, priority, objective }).then(
      (p) => {
        if (!live) return;
        setProposal(p);
        setProposalError(undefined);
        setSelected(p.recipes.map((r) => r.name));
      },
      (e: unknown) => live && setProposalError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [model, priority, objective]);

  useEffect(() => {
    if (!model || step !== 2) return;
    let live = true;
    studio.getTrend({ model, recipe: 'baseline' }).then(
      (t) => live && setTrend({ model, ms: t.at(-1)?.latencyMean }),
      () => live && setTrend({ model }),
    );
    return () => {
      live = false;
    };
  }, [model, step]);

  useEffect(
    () =>
      studio.on('benchProgress', (p) => {
        if (p.jobId !== jobId) return;
        setLast(p);
        setRows((r) => foldProgress(r, p));
        // A case is recorded once its quality is judged: show the newest before/after pair.
        const key = `${p.recipe}:${p.caseIndex}:${p.phase}`;
        if (p.recipeIndex > 0 && p.phase !== 'prepare' && key !== lastFetch.current) {
          lastFetch.current = key;
          void studio.listImages({ runId: p.runId, kind: 'bench' }).then((l) => {
            setThresholds(l.thresholds);
            const paired = l.images.filter((i) => i.baselinePath !== null);
            if (paired.length > 0) setLatest(paired[paired.length - 1]);
          });
        }
      }),
    [jobId],
  );

  const request = () => ({
    model: model ?? 'tiny-shapes',
    recipes: selected,
    repeats: typeof repeats === 'number' ? repeats : 2,
    maxCases: typeof maxCases === 'number' ? maxCases : undefined,
    stack,
    priority,
    objective,
    ep: ExecutionProviderSchema.safeParse(ep).data,
    budgetMinutes: Number(budget),
  });

  const predict = async (): Promise<void> => {
    setPredicting(true);
    try {
      setPlan((await studio.planBenchmark(request())).plan);
    } catch (e) {
      notifyError('The time could not be predicted', e, 'check the model on the Models page');
    } finally {
      setPredicting(false);
    }
  };

  const run = async (): Promise<void> => {
    if (!model) return;
    const id = newJobId();
    setJobId(id);
    setRunError(undefined);
    setCancel(undefined);
    setResult(undefined);
    setDetail(undefined);
    setRows([]);
    setLast(undefined);
    setLatest(undefined);
    lastFetch.current = '';
    setStep(3);
    try {
      const r = await studio.runBenchmark({ ...request(), jobId: id });
      const [d, images] = await Promise.all([
        studio.getRun({ runId: r.runId }),
        studio.listImages({ runId: r.runId, limit: 1 }),
      ]);
      setResult(r);
      setDetail(d);
      setThresholds(images.thresholds);
      setStep(4);
    } catch (e) {
      if (isCancelled(e)) {
        // The person's own choice: said in place, not as a failure.
        setCancel('cancelled');
        setRows(cancelProgress);
        return;
      }
      setCancel(undefined);
      setRunError(errorText(e));
      notifyError(
        'The benchmark stopped',
        e,
        'its finished cases are kept in History; go back to the plan to run again',
      );
    } finally {
      setJobId(undefined);
      closeOpenSpans();
    }
  };

  // The size of the plan, and its time at the baseline's last measured latency on this model.
  const images =
    selected.length *
    (typeof maxCases === 'number' ? maxCases : 5) *
    ((typeof repeats === 'number' ? repeats : 2) + 1) *
    2;
  const baselineMs = trend?.model === model ? trend.ms : undefined;

  const running = jobId !== undefined;
  const canPlan = !!model && !!proposal;
  const workingProviders = (hw.data?.providers ?? []).filter((p) => p.works).map((p) => p.name);

  return (
    <Stack>
      <Title order={2}>Optimization wizard</Title>
      <Stepper
        active={step}
        onStepClick={(s) => !running && s < step && setStep(s)}
        allowNextStepsSelect={false}
        size="sm"
        data-testid="wizard-stepper"
      >
        <Stepper.Step label="Hardware" description="What this PC has">
          <Card withBorder data-testid="hardware-step">
            {hw.loading && <Loader size="sm" role="status" aria-label="detecting hardware" />}
            {hw.error && (
              <Alert color="red" title="Could not read the hardware">
                {hw.error} — the wizard can still run on the CPU; continue.
              </Alert>
            )}
            {hw.data && <HardwareWords hw={hw.data} />}
            <Group justify="flex-end" mt="md">
              <Button onClick={() => setStep(1)} data-testid="wizard-next">
                Next: your goals
              </Button>
            </Group>
          </Card>
        </Stepper.Step>
        <Stepper.Step label="Goals" description="Model, provider, priority">
          <Card withBorder data-testid="goals-step">
            <Stack>
              <Group align="end">
                <ModelSelect {...choice} />
                <Select
                  label="Provider"
                  placeholder="best available"
                  data={workingProviders}
                  value={ep}
                  onChange={setEp}
                  clearable
                  w={170}
                />
              </Group>
              <div>
                <Text size="sm" fw={500} id="priority-label">
                  What matters most
                </Text>
                <SegmentedControl
                  value={priority}
                  onChange={(v) => setPriority(v as Priority)}
                  data={['quality', 'balance', 'speed']}
                  aria-labelledby="priority-label"
                />
                <Text size="xs" c="dimmed">
                  The wizard recommends {PRIORITY_WORDS[priority]}.
                </Text>
              </div>
              <div>
                <Text size="sm" fw={500} id="objective-label">
                  Measure for
                </Text>
                <SegmentedControl
                  value={objective}
                  onChange={(v) => setObjective(v as Objective)}
                  data={[
                    { value: 'latency', label: 'one image fast (latency)' },
                    { value: 'throughput', label: 'many images (throughput)' },
                  ]}
                  aria-labelledby="objective-label"
                />
              </div>
              <Group justify="space-between">
                <Button variant="default" onClick={() => setStep(0)}>
                  Back
                </Button>
                <Button onClick={() => setStep(2)} disabled={!canPlan} data-testid="wizard-next">
                  Next: the plan
                </Button>
              </Group>
              {proposalError && (
                <Alert color="red" title="Could not plan for this model">
                  {proposalError} — pick another model, or add one on the Models page.
                </Alert>
              )}
            </Stack>
          </Card>
        </Stepper.Step>
        <Stepper.Step label="Plan" description="Candidates, editable">
          <Card withBorder data-testid="wizard-candidates">
            {proposal && (
              <Stack gap={6}>
                <Text size="sm" c="dimmed">
                  Chosen for a {proposal.hardwareClass} machine and your priority. The baseline
                  (your current settings) always runs first; every other recipe is measured against
                  it on the same prompts and seeds. Untick what you do not want measured.
                </Text>
                {proposal.recipes.map((r) => (
                  <Checkbox
                    key={r.name}
                    label={`${r.name} — ${r.title}`}
                    description={`${r.strategy}: ${r.description}`}
                    checked={selected.includes(r.name)}
                    disabled={r.name === 'baseline'}
                    onChange={(e) => {
                      // Read the event now: React's currentTarget is gone by the time an updater runs.
                      const checked = e.currentTarget.checked;
                      setSelected((s) =>
                        checked ? [...s, r.name] : s.filter((n) => n !== r.name),
                      );
                    }}
                  />
                ))}
                {proposal.more.length > 0 && (
                  <Text size="sm" fw={500} mt="xs">
                    Also worth measuring (left out to keep the plan short; tick to add)
                  </Text>
                )}
                {proposal.more.map((r) => (
                  <Checkbox
                    key={r.name}
                    label={`${r.name} — ${r.title}`}
                    description={`${r.strategy}: ${r.description}`}
                    checked={selected.includes(r.name)}
                    onChange={(e) => {
                      const checked = e.currentTarget.checked;
                      setSelected((s) =>
                        checked ? [...s, r.name] : s.filter((n) => n !== r.name),
                      );
                    }}
                  />
                ))}
                {proposal.skipped
                  .filter((s) => !proposal.more.some((m) => m.name === s.recipe))
                  .map((s) => (
                    <Text key={s.recipe} size="xs" c="dimmed">
                      {s.recipe}: not planned — {s.reason}
                    </Text>
                  ))}
                <Group align="end" mt="sm">
                  <NumberInput
                    label="Prompts (cases)"
                    description="fewer: a quicker answer"
                    min={1}
                    max={20}
                    value={maxCases}
                    onChange={setMaxCases}
                    w={150}
                  />
                  <NumberInput
                    label="Repeats per prompt"
                    description="more: a tighter interval"
                    min={1}
                    max={20}
                    value={repeats}
                    onChange={setRepeats}
                    w={160}
                  />
                  <Switch
                    label="Then stack what passed into tiers"
                    checked={stack}
                    onChange={(e) => setStack(e.currentTarget.checked)}
                  />
                </Group>
                <Text size="sm" data-testid="plan-estimate">
                  {selected.length} recipe{selected.length === 1 ? '' : 's'} ×{' '}
                  {typeof maxCases === 'number' ? maxCases : 'every'} prompt
                  {maxCases === 1 ? '' : 's'} × {typeof repeats === 'number' ? repeats : 2} repeat
                  {repeats === 1 ? '' : 's'}, plus a warm-up per recipe and, on the CPU, the
                  baseline again beside each candidate: about {images} images
                  {baselineMs !== undefined
                    ? ` — about ${formatDuration(images * baselineMs)} at the baseline's last measured ${Math.round(baselineMs)} ms per image (fewer steps run faster)`
                    : ' (the time is known after the first run of this model)'}
                  ; variants the optimizer must build first add their build time.
                </Text>
                <TimeBudget
                  budget={budget}
                  onBudget={(b) => {
                    setBudget(b);
                    setPlan(undefined);
                  }}
                  plan={plan}
                  predicting={predicting}
                  onPredict={() => void predict()}
                  disabled={!model || selected.length === 0 || running}
                />
                <Group justify="space-between" mt="sm">
                  <Button variant="default" onClick={() => setStep(1)}>
                    Back
                  </Button>
                  <Button
                    onClick={() => void run()}
                    disabled={!model || selected.length === 0}
                    data-testid="run-benchmark"
                  >
                    Run the benchmark
                  </Button>
                </Group>
              </Stack>
            )}
          </Card>
        </Stepper.Step>
        <Stepper.Step label="Run" description="Live" loading={running}>
          <Grid>
            <Grid.Col span={{ base: 12, lg: 7 }}>
              <Card withBorder data-testid="run-step">
                <Stack>
                  <Group justify="space-between">
                    <Title order={4} data-testid="run-title">
                      {cancel === 'cancelled' ? 'Cancelled' : 'Measuring'}
                    </Title>
                    {running && jobId && (
                      <Button
                        variant="light"
                        color="red"
                        disabled={cancel === 'asked'}
                        onClick={() => {
                          setCancel('asked');
                          studio.cancelBenchmark({ jobId }).then(
                            (r) => !r.cancelled && setCancel(undefined),
                            (e: unknown) => {
                              setCancel(undefined);
                              notifyError('The benchmark could not be cancelled', e);
                            },
                          );
                        }}
                        data-testid="cancel-benchmark"
                      >
                        {cancel === 'asked' ? 'Cancelling…' : 'Cancel'}
                      </Button>
                    )}
                  </Group>
                  <RunProgress
                    rows={rows}
                    planned={selected}
                    last={last}
                    cancelled={cancel === 'cancelled'}
                  />
                  {cancel === 'cancelled' && (
                    <Group>
                      <Alert color="gray" title="Cancelled" data-testid="run-cancelled">
                        The benchmark was cancelled; the cases it finished are kept in History
                        (listed as cancelled).
                      </Alert>
                      <Button variant="default" onClick={() => setStep(2)}>
                        Back to the plan
                      </Button>
                    </Group>
                  )}
                  {runError && (
                    <Group>
                      <Alert color="red" title="The benchmark stopped">
                        {runError}
                      </Alert>
                      <Button variant="default" onClick={() => setStep(2)}>
                        Back to the plan
                      </Button>
                    </Group>
                  )}
                  {latest && thresholds && (
                    <Card withBorder data-testid="latest-pair">
                      <Group justify="space-between">
                        <Text size="sm" fw={500}>
                          Latest: {latest.recipe} · case {(latest.caseIndex ?? 0) + 1} against the
                          baseline
                        </Text>
                        <QualityBadges
                          ssim={latest.ssim}
                          psnr={latest.psnr}
                          thresholds={thresholds}
                          size="sm"
                        />
                      </Group>
                      <BeforeAfter key={latest.id} image={latest} />
                    </Card>
                  )}
                </Stack>
              </Card>
            </Grid.Col>
            <Grid.Col span={{ base: 12, lg: 5 }}>
              {active && step === 3 && <LiveMonitorPanel />}
            </Grid.Col>
          </Grid>
        </Stepper.Step>
        <Stepper.Step label="Results" description="And a profile">
          {result && detail && thresholds && (
            <Stack data-testid="wizard-result">
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
              <RecipeTable recipes={result.recipes} onApplyAnyway={setApplyAnyway} />
              <ApplyAnywayModal
                runId={result.runId}
                recipe={applyAnyway}
                baseline={result.recipes[0]}
                thresholds={thresholds}
                onClose={() => setApplyAnyway(null)}
              />
              <Grid>
                <Grid.Col span={{ base: 12, lg: 6 }}>
                  <CaseLatencyChart run={detail} />
                </Grid.Col>
                <Grid.Col span={{ base: 12, lg: 6 }}>
                  <SpeedQualityScatter run={detail} thresholds={thresholds} />
                </Grid.Col>
              </Grid>
              <ContributionChart run={detail} />
              <Findings run={detail} />
              <ApplyProfile run={detail} thresholds={thresholds} />
              <Group>
                <Button variant="default" onClick={() => setStep(2)}>
                  Back to the plan
                </Button>
                <Button
                  variant="light"
                  onClick={() => navigate({ page: 'gallery', runId: result.runId })}
                >
                  See every before/after in the Gallery
                </Button>
              </Group>
            </Stack>
          )}
        </Stepper.Step>
      </Stepper>
    </Stack>
  );
}
