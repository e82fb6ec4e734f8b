import { useEffect, useState } from 'react';
import {
  ActionIcon,
  Badge,
  Button,
  Group,
  NumberInput,
  Paper,
  Select,
  Stack,
  Text,
} from '@mantine/core';
import { LORA_SCALE_RANGE, LoraRequestSchema } from '../../../shared/schemas';
import type { LoraCardSettings, LoraSummary } from '../../../shared/lora-schemas';
import { describeSchedulerOverrides } from '../../../shared/scheduler-overrides';
import { studio } from '../api/client';

/** A LoRA picked for the next generation; `scale` is what the input holds (maybe not a number). */
export interface PickedLora {
  lora: LoraSummary;
  scale: number | string;
}

/** At most this many, as the generate request allows. */
const MAX_LORAS = 8;

const KIND_WORDS: Record<string, string> = {
  'lcm-lora': 'LCM-LoRA: few steps',
  'step-distilled': 'step-distilled: the same picture in fewer steps',
  style: 'style',
};
const kindWords = (kind: string | null): string =>
  kind === null ? 'no card' : (KIND_WORDS[kind] ?? kind);

const MATCH_WORDS: Record<LoraSummary['match'], string> = {
  model: 'made for this model',
  family: "made for this model's family",
  unknown: 'no card: merging tells whether it fits',
};

/** The scale's problem in the schema's own words, or undefined when it is valid. */
export function loraScaleError(scale: number | string): string | undefined {
  if (typeof scale !== 'number') return 'give a number (1 = as trained)';
  const parsed = LoraRequestSchema.shape.scale.safeParse(scale);
  return parsed.success ? undefined : parsed.error.issues[0]?.message;
}

/** The settings "Use the card's settings" puts in the form ("lcm · 4 steps · guidance 1"). */
export function cardSettingsWords(card: LoraCardSettings | null): string {
  if (!card) return '';
  return [
    card.scheduler,
    card.steps !== undefined ? `${card.steps} steps` : undefined,
    card.guidance !== undefined ? `guidance ${card.guidance}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** What a card recommends, in words, its scheduler settings included; '' when it says nothing. */
export function cardWords(card: LoraCardSettings | null): string {
  if (!card) return '';
  return [
    cardSettingsWords(card),
    // Shown so the person knows the run uses the student's own grid (generate applies it).
    ...describeSchedulerOverrides(card.schedulerOverrides ?? {}),
  ]
    .filter(Boolean)
    .join(' · ');
}

/** The LoRAs listed for a model, loaded again whenever the model changes. */
function useLoras(model: string | null): { data?: LoraSummary[]; error?: string } {
  const [state, setState] = useState<{
    model: string | null;
    data?: LoraSummary[];
    error?: string;
  }>({ model: null });
  useEffect(() => {
    if (!model) return;
    let live = true;
    studio.listLoras({ model }).then(
      (data) => live && setState({ model, data }),
      (e: unknown) =>
        live && setState({ model, error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      live = false;
    };
  }, [model]);
  return state.model === model ? state : {};
}

/**
 * Adds LoRAs to a generation, each with its scale (validated as the request schema does); a LoRA
 * whose card recommends sampling settings offers them in one click. Every control is a native
 * input or button, so the whole picker works from the keyboard.
 */
export function LoraPicker({
  model,
  picked,
  onChange,
  onUseCard,
  disabled,
}: {
  model: string | null;
  picked: PickedLora[];
  onChange: (picked: PickedLora[]) => void;
  onUseCard: (card: LoraCardSettings) => void;
  disabled?: boolean;
}): React.JSX.Element {
  const loras = useLoras(model);
  const available = (loras.data ?? []).filter((l) => !picked.some((p) => p.lora.id === l.id));
  const add = (id: string | null): void => {
    const lora = available.find((l) => l.id === id);
    if (lora) onChange([...picked, { lora, scale: lora.card?.scale ?? 1 }]);
  };
  const setScale = (id: string, scale: number | string): void =>
    onChange(picked.map((p) => (p.lora.id === id ? { ...p, scale } : p)));
  const remove = (id: string): void => onChange(picked.filter((p) => p.lora.id !== id));

  return (
    <Stack gap="xs" data-testid="lora-picker">
      <Select
        label="LoRAs"
        description={
          loras.data && loras.data.length === 0
            ? 'none for this model: put .safetensors LoRAs in the studio home’s loras folder'
            : 'merged into the model before generating (the first time takes a moment, then it is cached)'
        }
        placeholder={picked.length >= MAX_LORAS ? `at most ${MAX_LORAS}` : 'add a LoRA…'}
        data={available.map((l) => ({
          value: l.id,
          label: `${l.name} — ${kindWords(l.kind)}, ${MATCH_WORDS[l.match]}`,
        }))}
        value={null}
        onChange={add}
        searchable
        disabled={disabled || picked.length >= MAX_LORAS || available.length === 0}
        error={loras.error}
        data-testid="lora-add"
      />
      {picked.map(({ lora, scale }) => {
        const error = loraScaleError(scale);
        const recommended = cardWords(lora.card);
        return (
          <Paper key={lora.id} withBorder p="xs" data-testid={`lora-${lora.name}`}>
            <Group justify="space-between" wrap="nowrap" align="start">
              <Stack gap={2}>
                <Group gap="xs">
                  <Text size="sm" fw={500}>
                    {lora.name}
                  </Text>
                  <Badge size="sm" variant="light" color={lora.kind ? 'blue' : 'gray'}>
                    {kindWords(lora.kind)}
                  </Badge>
                </Group>
                <Text size="xs" c="dimmed">
                  {MATCH_WORDS[lora.match]}
                  {recommended && ` · the card recommends ${recommended}`}
                  {lora.card && lora.card.scale !== 1 && ` at scale ${lora.card.scale}`}
                </Text>
              </Stack>
              <ActionIcon
                variant="subtle"
                color="gray"
                onClick={() => remove(lora.id)}
                disabled={disabled}
                aria-label={`Remove the LoRA ${lora.name}`}
                title={`Remove the LoRA ${lora.name}`}
              >
                ×
              </ActionIcon>
            </Group>
            <Group align="end" mt={4}>
              <NumberInput
                label="Scale"
                description="1 = as trained, 0 = off, negative = subtracted"
                min={LORA_SCALE_RANGE.min}
                max={LORA_SCALE_RANGE.max}
                step={0.1}
                decimalScale={2}
                value={scale}
                onChange={(v) => setScale(lora.id, v)}
                error={error}
                disabled={disabled}
                aria-label={`Scale of the LoRA ${lora.name}`}
                data-testid="lora-scale"
                w={220}
              />
              {recommended && lora.card && (
                <Button
                  variant="light"
                  size="xs"
                  onClick={() => {
                    if (lora.card) {
                      setScale(lora.id, lora.card.scale);
                      onUseCard(lora.card);
                    }
                  }}
                  disabled={disabled}
                  data-testid="lora-use-card"
                >
                  Use the card’s settings ({cardSettingsWords(lora.card)})
                </Button>
              )}
            </Group>
          </Paper>
        );
      })}
    </Stack>
  );
}
