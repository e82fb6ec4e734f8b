import { Badge, Group, List, Stack, Text } from '@mantine/core';
import type { HardwareInfo } from '../../../../shared/schemas';

const CLASS_WORDS: Record<HardwareInfo['hardwareClass'], string> = {
  'cpu-only':
    'No usable GPU was found, so images are made on the processor. The wizard will look for savings in steps, schedulers, threads and smaller weights — the things that pay on a CPU.',
  'gpu-consumer':
    'A consumer graphics card is available: half-precision weights and GPU providers are worth measuring, and memory on the card is the limit to watch.',
  'gpu-pro':
    'A workstation-class GPU with plenty of memory: the wizard favours GPU providers and half precision, and can keep every model part loaded.',
  'apple-silicon':
    'Apple silicon: CoreML and the unified memory are what the wizard will try to use.',
};

const PROVIDER_WORDS: Record<string, string> = {
  cpu: 'the processor — works everywhere',
  cuda: 'NVIDIA GPUs through CUDA',
  dml: 'any DirectX 12 GPU on Windows',
  webgpu: 'the GPU through WebGPU',
  coreml: 'Apple’s Neural Engine and GPU',
};

/** What was found, in plain words, and what it means for the person. */
export function HardwareWords({ hw }: { hw: HardwareInfo }): React.JSX.Element {
  const working = hw.providers.filter((p) => p.works);
  return (
    <Stack gap="xs" data-testid="hardware-words">
      <Text>
        Your computer has a <b>{hw.cpu.brand}</b> with {hw.cpu.physicalCores} cores ({hw.cpu.cores}{' '}
        threads) and <b>{(hw.memory.totalMb / 1024).toFixed(0)} GiB</b> of memory (
        {(hw.memory.availableMb / 1024).toFixed(1)} GiB free now).{' '}
        {hw.gpus.length === 0
          ? 'No graphics card was found.'
          : `Graphics: ${hw.gpus.map((g) => `${g.vendor} ${g.model}${g.vramMb ? ` with ${(g.vramMb / 1024).toFixed(0)} GiB` : ''}`).join(', ')}.`}
      </Text>
      <Group gap="xs">
        <Text size="sm">Class:</Text>
        <Badge variant="light">{hw.hardwareClass}</Badge>
      </Group>
      <Text size="sm">{CLASS_WORDS[hw.hardwareClass]}</Text>
      <Text size="sm" fw={500}>
        Ways to run a model that really work here (each was tried on a tiny model):
      </Text>
      <List size="sm">
        {working.map((p) => (
          <List.Item key={p.name}>
            <b>{p.name}</b> — {PROVIDER_WORDS[p.name] ?? p.name}
          </List.Item>
        ))}
        {hw.providers
          .filter((p) => !p.works)
          .map((p) => (
            <List.Item key={p.name}>
              <Text span c="dimmed" size="sm">
                {p.name} — not available here{p.error ? ` (${p.error.slice(0, 120)})` : ''}
              </Text>
            </List.Item>
          ))}
      </List>
    </Stack>
  );
}
