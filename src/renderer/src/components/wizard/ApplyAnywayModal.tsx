import { useState } from 'react';
import { Alert, Button, Group, List, Modal, Stack, Text } from '@mantine/core';
import type { RecipeOutcome } from '../../../../shared/bench-schemas';
import type { QualityThresholds } from '../../../../shared/library-schemas';
import { studio } from '../../api/client';
import { errorText, notifyDone } from '../notify';
import { adherenceFraction } from '../RecipeTable';

/** The verdicts whose images failed the pixel check: applied only after this confirmation. */
export const NEEDS_ACKNOWLEDGEMENT = new Set(['different-pixels', 'degraded', 'unmeasured']);

/**
 * "Apply anyway": a recipe whose images differ from the baseline's (a distilled student's own
 * pixels, a degraded quantization) is saved as the default profile only after the person has seen
 * its numbers: speed-up with its interval, SSIM and PSNR against the thresholds, and prompt
 * adherence against the baseline's. Cancel has the focus, so Enter does not apply by accident.
 */
export function ApplyAnywayModal({
  runId,
  recipe,
  baseline,
  thresholds,
  onClose,
  onApplied,
}: {
  runId: number;
  /** The recipe to confirm; null: closed. */
  recipe: RecipeOutcome | null;
  baseline: RecipeOutcome | undefined;
  /** The benchmark's quality thresholds, where the page has them. */
  thresholds?: QualityThresholds;
  onClose: () => void;
  onApplied?: (text: string) => void;
}): React.JSX.Element {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string>();
  const close = (): void => {
    setError(undefined);
    onClose();
  };
  const apply = async (): Promise<void> => {
    if (!recipe) return;
    setSaving(true);
    try {
      const p = await studio.saveProfile({
        runId,
        recipe: recipe.name,
        acknowledgeQuality: true,
      });
      const text = `"${p.name}" is now the default profile for ${p.model}, applied knowingly: its images differ from the baseline's. Generate uses it unless you pick another.`;
      notifyDone('Profile applied anyway', text);
      onApplied?.(text);
      close();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setSaving(false);
    }
  };
  const r = recipe;
  const ci = r?.speedupCi;
  return (
    <Modal
      opened={r !== null}
      onClose={close}
      title={r ? `Apply ${r.name} anyway?` : ''}
      closeButtonProps={{ 'aria-label': 'Close without applying' }}
      data-testid="apply-anyway-modal"
    >
      {r && (
        <Stack>
          <Text size="sm">
            {r.verdict === 'different-pixels'
              ? `${r.name} draws what the prompts ask for as well as the baseline does, but with its own pixels: the pictures Generate gives you will change, not only get faster.`
              : `${r.name} did not pass the quality check against the baseline: the pictures Generate gives you will look different.`}
          </Text>
          <List size="sm" data-testid="apply-anyway-numbers">
            <List.Item>
              Speed-up: {r.speedup === null ? '–' : `${r.speedup.toFixed(2)}x`}
              {ci ? ` (95% interval ${ci[0].toFixed(2)}–${ci[1].toFixed(2)})` : ' (no interval)'}
            </List.Item>
            <List.Item>
              SSIM {r.ssim?.toFixed(3) ?? '–'}
              {thresholds ? ` (acceptable above ${thresholds.ssimAcceptable})` : ''}, PSNR{' '}
              {r.psnr?.toFixed(1) ?? '–'} dB
              {thresholds ? ` (acceptable above ${thresholds.psnrAcceptableDb} dB)` : ''}: the worst
              case against the baseline
            </List.Item>
            <List.Item>
              Prompt adherence: every check right in {adherenceFraction(r.adherence)} cases, the
              baseline {adherenceFraction(baseline?.adherence)}
            </List.Item>
          </List>
          <Text size="xs" c="dimmed">
            Compare the pictures in the Gallery first if you have not. You can switch back to the
            baseline by saving another profile.
          </Text>
          {error && (
            <Alert color="red" data-testid="apply-anyway-error">
              {error}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close} data-autofocus>
              Cancel
            </Button>
            <Button
              loading={saving}
              onClick={() => void apply()}
              data-testid="confirm-apply-anyway"
            >
              Apply anyway
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
