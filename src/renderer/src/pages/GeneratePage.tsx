import { useEffect, useState } from 'react';
import {
  Alert,
  Button,
  CopyButton,
  Grid,
  Group,
  Image,
  NumberInput,
  Paper,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { getHotkeyHandler } from '@mantine/hooks';
import {
  ExecutionProviderSchema,
  SCHEDULER_NAMES,
  SchedulerNameSchema,
  type GenerateRequest,
  type GenerateResult,
  type ProgressEvent,
} from '../../../shared/schemas';
import { isCancelled, studio } from '../api/client';
import type { PageProps } from './page-props';
import { ModelSelect, useModelChoice } from '../components/ModelSelect';
import { useAsync } from '../components/useAsync';
import { useReloadOnShow } from '../components/useReloadOnShow';
import { StoredImage } from '../components/StoredImage';
import { notifyError } from '../components/notify';
import { navigate } from '../components/navigate';
import { closeOpenSpans } from '../components/live-monitor';
import { LoraPicker, loraScaleError, type PickedLora } from '../components/LoraPicker';
import type { LoraCardSettings } from '../../../shared/lora-schemas';

/** Outside the component: a job id is made per click, never during render. */
const newJobId = (): string => `ui-${crypto.randomUUID()}`;

const fmt = (ms: number): string =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;

const SIZES = ['64', '128', '256', '512', '768', '1024'];
const num = (v: number | string): number | undefined => (typeof v === 'number' ? v : undefined);

/** The settings of a result as the CLI command that makes the same image. */
function cliCommand(r: GenerateResult, prompt: string, request: GenerateRequest): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    'npm run cli -- generate',
    `--model ${q(r.model)}`,
    `--prompt ${q(prompt)}`,
    request.negativePrompt ? `--negative ${q(request.negativePrompt)}` : '',
    `--steps ${r.steps}`,
    `--guidance ${r.guidance}`,
    `--scheduler ${r.scheduler}`,
    `--seed ${r.seed}`,
    `--width ${r.images[0]?.width ?? ''}`,
    `--height ${r.images[0]?.height ?? ''}`,
    request.batch && request.batch > 1 ? `--batch ${request.batch}` : '',
    request.ep ? `--ep ${request.ep}` : '',
    request.profile ? `--profile ${q(request.profile)}` : '',
    // LoRA ids work on the command line too (the studio resolves them).
    ...(request.loras ?? []).map((l) => `--lora ${q(`${l.path}:${l.scale ?? 1}`)}`),
    '--out image.png',
  ]
    .filter(Boolean)
    .join(' ');
}

export function GeneratePage({ active }: PageProps): React.JSX.Element {
  const choice = useModelChoice();
  const { models, model } = choice;
  const hw = useAsync(() => studio.getHardware());
  const profiles = useAsync(() => studio.listProfiles({}));
  const recent = useAsync(() => studio.getHistory({ limit: 30 }));
  useReloadOnShow(active, profiles.reload);
  const [prompt, setPrompt] = useState('a red circle on a blue background');
  const [negative, setNegative] = useState('');
  const [steps, setSteps] = useState<number | string>('');
  const [guidance, setGuidance] = useState<number | string>('');
  const [seed, setSeed] = useState<number | string>('');
  const [scheduler, setScheduler] = useState<string | null>(null);
  const [ep, setEp] = useState<string | null>(null);
  const [width, setWidth] = useState<string | null>(null);
  const [height, setHeight] = useState<string | null>(null);
  const [batch, setBatch] = useState<number | string>(1);
  const [profile, setProfile] = useState<string | null>(null);
  const [loras, setLoras] = useState<PickedLora[]>([]);
  // LoRAs are listed per model: a model change drops the ones picked for the previous model.
  const [lorasFor, setLorasFor] = useState(model);
  if (lorasFor !== model) {
    setLorasFor(model);
    setLoras([]);
  }
  const [jobId, setJobId] = useState<string>();
  const [progress, setProgress] = useState<ProgressEvent>();
  const [result, setResult] = useState<GenerateResult>();
  const [request, setRequest] = useState<GenerateRequest>({});
  const [selectedImage, setSelectedImage] = useState(0);
  /** How the last generation ended when it did not give images: cancelled, or an error. */
  const [stopped, setStopped] = useState<{ message: string; cancelled: boolean }>();
  const busy = jobId !== undefined;

  useEffect(
    () =>
      studio.on('generateProgress', (p) => {
        if (p.jobId === jobId) setProgress(p);
      }),
    [jobId],
  );

  const modelProfiles = (profiles.data ?? []).filter((p) => p.model === model);
  const defaultProfile = modelProfiles.find((p) => p.isDefault);

  const loraInvalid = loras.some((l) => loraScaleError(l.scale) !== undefined);

  /** The card's recommended sampling, into the fields (each stays editable afterwards). */
  const applyCard = (card: LoraCardSettings): void => {
    const parsed = SchedulerNameSchema.safeParse(card.scheduler);
    if (parsed.success) setScheduler(parsed.data);
    if (card.steps !== undefined) setSteps(card.steps);
    if (card.guidance !== undefined) setGuidance(card.guidance);
  };

  const generate = async (): Promise<void> => {
    if (busy || !model || loraInvalid) return;
    const id = newJobId();
    const req: GenerateRequest = {
      model,
      prompt,
      negativePrompt: negative,
      steps: num(steps),
      guidance: num(guidance),
      seed: num(seed),
      scheduler: SchedulerNameSchema.safeParse(scheduler).data,
      ep: ExecutionProviderSchema.safeParse(ep).data,
      width: width ? Number(width) : undefined,
      height: height ? Number(height) : undefined,
      batch: num(batch) ?? 1,
      profile: profile ?? undefined,
      loras: loras.length
        ? loras.map((l) => ({ path: l.lora.id, scale: num(l.scale) ?? 1 }))
        : undefined,
      jobId: id,
    };
    setJobId(id);
    setStopped(undefined);
    setProgress(undefined);
    try {
      const r = await studio.generate(req);
      setResult(r);
      setRequest(req);
      setSelectedImage(0);
      recent.reload();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // A cancel is the person's own choice: said in place, never as a failure.
      const cancelled = isCancelled(e);
      setStopped({ message, cancelled });
      if (!cancelled) {
        notifyError('Generation failed', e, 'change the setting it names and generate again');
      }
    } finally {
      setJobId(undefined);
      // A cancelled or failed generation sends no closing event: end its span on the monitor.
      closeOpenSpans();
    }
  };

  const cancel = (): void => {
    if (jobId) void studio.cancelGenerate({ jobId });
  };

  const percent = progress
    ? progress.totalSteps > 0
      ? (100 * progress.step) / progress.totalSteps
      : 0
    : 0;
  const shown = busy ? progress?.previewDataUrl : result?.images[selectedImage]?.dataUrl;
  const recentRuns = (recent.data ?? [])
    .filter((r) => r.kind === 'generate' && r.status === 'done' && r.images.length > 0)
    .slice(0, 8);

  return (
    <Stack>
      <Title order={2}>Generate</Title>
      <Grid>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Stack
            gap="sm"
            onKeyDown={getHotkeyHandler([
              ['mod+Enter', () => void generate()],
              ['Escape', cancel],
            ])}
          >
            {models.error && (
              <Alert color="red" title="Could not list models">
                {models.error}
              </Alert>
            )}
            {models.data && models.data.length === 0 && (
              <Alert color="yellow" title="No model yet">
                No model is installed. The bundled tiny-shapes model ships with the studio;
                reinstall it, or add an ONNX Stable Diffusion folder on the Models page (Alt+7).
              </Alert>
            )}
            <Group grow align="end">
              <ModelSelect {...choice} />
              <Select
                label="Profile"
                placeholder={
                  defaultProfile ? `default: ${defaultProfile.name}` : 'none saved for this model'
                }
                description={
                  modelProfiles.length === 0 ? 'the Wizard (Alt+2) saves one' : undefined
                }
                data={modelProfiles.map((p) => ({
                  value: p.name,
                  label: `${p.name}${p.isDefault ? ' (default)' : ''}`,
                }))}
                value={profile}
                onChange={setProfile}
                clearable
                data-testid="profile-select"
              />
            </Group>
            <Textarea
              label="Prompt"
              description="Ctrl+Enter generates, Escape cancels"
              autosize
              minRows={2}
              value={prompt}
              onChange={(e) => setPrompt(e.currentTarget.value)}
              data-testid="prompt"
              data-autofocus
            />
            <Textarea
              label="Negative prompt"
              autosize
              value={negative}
              onChange={(e) => setNegative(e.currentTarget.value)}
            />
            <LoraPicker
              model={model}
              picked={loras}
              onChange={setLoras}
              onUseCard={applyCard}
              disabled={busy}
            />
            <Group grow>
              <NumberInput
                label="Steps"
                placeholder="model default"
                min={1}
                max={1000}
                value={steps}
                onChange={setSteps}
                data-testid="steps"
              />
              <NumberInput
                label="Guidance"
                placeholder="model default"
                min={0}
                max={100}
                step={0.5}
                decimalScale={2}
                value={guidance}
                onChange={setGuidance}
              />
              <Select
                label="Scheduler"
                placeholder="model default"
                data={[...SCHEDULER_NAMES]}
                value={scheduler}
                onChange={setScheduler}
                clearable
              />
            </Group>
            <Group grow>
              <NumberInput
                label="Seed"
                placeholder="random"
                min={0}
                max={4294967295}
                value={seed}
                onChange={setSeed}
                data-testid="seed"
              />
              <NumberInput
                label="Batch"
                min={1}
                max={16}
                value={batch}
                onChange={setBatch}
                data-testid="batch"
              />
              <Select
                label="Provider"
                placeholder={
                  defaultProfile?.ep ? `profile's (${defaultProfile.ep})` : 'best available'
                }
                data={(hw.data?.providers ?? []).filter((p) => p.works).map((p) => p.name)}
                value={ep}
                onChange={setEp}
                clearable
              />
            </Group>
            <Group grow>
              <Select
                label="Width"
                placeholder="model default"
                data={SIZES}
                value={width}
                onChange={setWidth}
                clearable
              />
              <Select
                label="Height"
                placeholder="model default"
                data={SIZES}
                value={height}
                onChange={setHeight}
                clearable
              />
            </Group>
            {busy ? (
              <Button color="red" variant="light" onClick={cancel} data-testid="cancel-generate">
                Cancel
              </Button>
            ) : (
              <Button
                onClick={() => void generate()}
                disabled={!model || loraInvalid}
                data-testid="generate"
              >
                Generate
              </Button>
            )}
            {busy && (
              <Stack gap={4}>
                <Progress value={percent} animated aria-label="generation progress" />
                <Text size="sm" c="dimmed" data-testid="generate-status" aria-live="polite">
                  {progress
                    ? progress.stage === 'merge'
                      ? (progress.message ?? 'merging LoRA…')
                      : `${progress.stage} ${progress.step}/${progress.totalSteps}`
                    : 'starting…'}
                </Text>
              </Stack>
            )}
            {stopped?.cancelled && (
              <Alert color="gray" title="Cancelled" data-testid="generate-cancelled">
                The generation was cancelled before it finished; no image was kept. History lists it
                as cancelled.
              </Alert>
            )}
            {stopped && !stopped.cancelled && (
              <Alert color="red" title="Generation failed" data-testid="generate-error">
                {stopped.message}
              </Alert>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Paper withBorder p="md">
            {shown ? (
              <Image
                src={shown}
                alt={busy ? 'latent preview' : prompt}
                w={384}
                h={384}
                fit="contain"
                style={{ imageRendering: 'pixelated' }}
                data-testid="result-image"
              />
            ) : (
              <Text c="dimmed">
                The image appears here. Write a prompt and press Generate (Ctrl+Enter).
              </Text>
            )}
            {result && !busy && result.images.length > 1 && (
              <SimpleGrid cols={8} spacing={4} mt="xs" data-testid="batch-images">
                {result.images.map((img, i) => (
                  <UnstyledButton
                    key={img.path}
                    onClick={() => setSelectedImage(i)}
                    aria-label={`Show image ${i + 1} of the batch`}
                    style={{
                      outline:
                        i === selectedImage
                          ? '2px solid var(--mantine-primary-color-filled)'
                          : undefined,
                    }}
                  >
                    <img
                      src={img.dataUrl}
                      alt={`batch image ${i + 1}`}
                      width={44}
                      height={44}
                      style={{ imageRendering: 'pixelated', display: 'block' }}
                    />
                  </UnstyledButton>
                ))}
              </SimpleGrid>
            )}
            {result && !busy && (
              <>
                <Group mt="sm" gap="xs">
                  <Button
                    size="xs"
                    variant="light"
                    onClick={() => setSeed(result.seed)}
                    data-testid="use-seed"
                  >
                    Use this seed ({result.seed})
                  </Button>
                  <CopyButton value={cliCommand(result, prompt, request)}>
                    {({ copied, copy }) => (
                      <Button
                        size="xs"
                        variant="light"
                        color={copied ? 'teal' : undefined}
                        onClick={copy}
                        data-testid="copy-settings"
                      >
                        {copied ? 'Copied the CLI command' : 'Copy settings'}
                      </Button>
                    )}
                  </CopyButton>
                </Group>
                <Table mt="md" data-testid="timings">
                  <Table.Tbody>
                    <Table.Tr>
                      <Table.Td>Seed</Table.Td>
                      <Table.Td>{result.seed}</Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>Steps · scheduler · guidance</Table.Td>
                      <Table.Td>
                        {result.steps} · {result.scheduler} · {result.guidance}
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>Images</Table.Td>
                      <Table.Td>
                        {result.images.length} × {result.images[0]?.width}x
                        {result.images[0]?.height}
                      </Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>Text encoder</Table.Td>
                      <Table.Td>{fmt(result.timings.textEncoder)}</Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>UNet (total)</Table.Td>
                      <Table.Td>{fmt(result.timings.unet)}</Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>VAE decode</Table.Td>
                      <Table.Td>{fmt(result.timings.vae)}</Table.Td>
                    </Table.Tr>
                    <Table.Tr>
                      <Table.Td>Total</Table.Td>
                      <Table.Td>{fmt(result.timings.total)}</Table.Td>
                    </Table.Tr>
                  </Table.Tbody>
                </Table>
              </>
            )}
            {result?.warnings.map((w) => (
              <Alert
                key={w}
                color={/applied|merged/.test(w) ? 'blue' : 'yellow'}
                mt="sm"
                data-testid="generate-note"
              >
                {w}
              </Alert>
            ))}
          </Paper>
        </Grid.Col>
      </Grid>
      <Stack gap="xs" data-testid="recent-results">
        <Group justify="space-between">
          <Title order={4}>Recent results</Title>
          {recentRuns.length > 0 && (
            <Button size="xs" variant="subtle" onClick={() => navigate({ page: 'gallery' })}>
              Everything in the Gallery
            </Button>
          )}
        </Group>
        {recentRuns.length === 0 ? (
          <Text size="sm" c="dimmed">
            Nothing generated yet: your images will be listed here.
          </Text>
        ) : (
          <SimpleGrid cols={{ base: 4, md: 8 }}>
            {recentRuns.map((r) => (
              <UnstyledButton
                key={r.id}
                onClick={() => setPrompt(r.summary)}
                title={`Use the prompt of run #${r.id}: ${r.summary}`}
                aria-label={`Use the prompt of run ${r.id}: ${r.summary}`}
              >
                <StoredImage path={r.images[0]} alt={r.summary} h={96} />
                <Text size="xs" lineClamp={1}>
                  #{r.id} {r.summary}
                </Text>
              </UnstyledButton>
            ))}
          </SimpleGrid>
        )}
      </Stack>
    </Stack>
  );
}
