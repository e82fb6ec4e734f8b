import { useEffect, useState } from 'react';
import {
  Alert,
  Button,
  Grid,
  Group,
  Image,
  NumberInput,
  Paper,
  Progress,
  Select,
  Stack,
  Table,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { getHotkeyHandler } from '@mantine/hooks';
import {
  SCHEDULER_NAMES,
  type GenerateResult,
  type ProgressEvent,
  type SchedulerName,
} from '../../../shared/schemas';
import { studio } from '../api/client';
import type { PageProps } from './page-props';
import { ModelSelect, useModelChoice } from '../components/ModelSelect';

/** Outside the component: a job id is made per click, never during render. */
const newJobId = (): string => `ui-${crypto.randomUUID()}`;

const fmt = (ms: number): string =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;

export function GeneratePage(_props: PageProps): React.JSX.Element {
  const choice = useModelChoice();
  const { models, model } = choice;
  const [prompt, setPrompt] = useState('a red circle on a blue background');
  const [negative, setNegative] = useState('');
  const [steps, setSteps] = useState<number | string>('');
  const [guidance, setGuidance] = useState<number | string>('');
  const [seed, setSeed] = useState<number | string>('');
  const [scheduler, setScheduler] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [jobId, setJobId] = useState<string>();
  const [progress, setProgress] = useState<ProgressEvent>();
  const [result, setResult] = useState<GenerateResult>();
  const [error, setError] = useState<string>();

  useEffect(
    () =>
      studio.on('generateProgress', (p) => {
        if (p.jobId === jobId) setProgress(p);
      }),
    [jobId],
  );

  const generate = async (): Promise<void> => {
    if (busy || !model) return;
    const id = newJobId();
    setJobId(id);
    setBusy(true);
    setError(undefined);
    setProgress(undefined);
    try {
      const r = await studio.generate({
        model,
        prompt,
        negativePrompt: negative,
        steps: typeof steps === 'number' ? steps : undefined,
        guidance: typeof guidance === 'number' ? guidance : undefined,
        seed: typeof seed === 'number' ? seed : undefined,
        scheduler: (scheduler ?? undefined) as SchedulerName | undefined,
        jobId: id,
      });
      setResult(r);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const percent = progress
    ? progress.totalSteps > 0
      ? (100 * progress.step) / progress.totalSteps
      : 0
    : 0;
  const shown = busy ? progress?.previewDataUrl : result?.images[0]?.dataUrl;

  return (
    <Stack>
      <Title order={2}>Generate</Title>
      <Grid>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Stack onKeyDown={getHotkeyHandler([['mod+Enter', () => void generate()]])}>
            {models.error && (
              <Alert color="red" title="Could not list models">
                {models.error}
              </Alert>
            )}
            {models.data && models.data.length === 0 && (
              <Alert color="yellow" title="No model yet">
                No model is installed. The bundled tiny-shapes model ships with the studio;
                reinstall it, or import an ONNX Stable Diffusion folder.
              </Alert>
            )}
            <ModelSelect {...choice} />
            <Textarea
              label="Prompt"
              description="Ctrl+Enter generates"
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
            <Group grow>
              <NumberInput
                label="Steps"
                placeholder="model default"
                min={1}
                max={1000}
                value={steps}
                onChange={setSteps}
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
            </Group>
            <Group grow>
              <NumberInput
                label="Seed"
                placeholder="random"
                min={0}
                max={4294967295}
                value={seed}
                onChange={setSeed}
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
            <Button
              onClick={() => void generate()}
              loading={busy}
              disabled={!model}
              data-testid="generate"
            >
              Generate
            </Button>
            {busy && (
              <Stack gap={4}>
                <Progress value={percent} animated aria-label="generation progress" />
                <Text size="sm" c="dimmed">
                  {progress
                    ? `${progress.stage} ${progress.step}/${progress.totalSteps}`
                    : 'starting…'}
                </Text>
              </Stack>
            )}
            {error && (
              <Alert color="red" title="Generation failed" data-testid="generate-error">
                {error}
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
              <Text c="dimmed">The image appears here.</Text>
            )}
            {result && !busy && (
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
            )}
            {result?.warnings.map((w) => (
              <Alert key={w} color="yellow" mt="sm">
                {w}
              </Alert>
            ))}
          </Paper>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
