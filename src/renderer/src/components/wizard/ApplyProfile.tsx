import { useEffect, useState } from 'react';
import { Alert, Button, Card, Group, List, Select, Stack, Text, Title } from '@mantine/core';
import type { RunDetail } from '../../../../shared/bench-schemas';
import type { QualityThresholds } from '../../../../shared/library-schemas';
import { studio } from '../../api/client';
import { errorText, notifyDone, notifyError } from '../notify';
import { ApplyAnywayModal, NEEDS_ACKNOWLEDGEMENT } from './ApplyAnywayModal';

type Preview = Awaited<ReturnType<typeof studio.previewProfile>>;

/**
 * "Apply as default profile": what it changes (against the model's own settings) and which
 * profile it replaces, said before the click. Defaults to the run's recommendation; any recipe
 * that passed can be chosen instead, and one whose images failed the quality check only through
 * "Apply anyway" and its confirmation with the numbers.
 */
export function ApplyProfile({
  run,
  thresholds,
}: {
  run: RunDetail;
  thresholds: QualityThresholds;
}): React.JSX.Element {
  const choices = run.recipes
    .slice(1)
    .filter(
      (r) => r.status === 'ok' && r.verdict !== 'over-optimized' && r.verdict !== 'does-not-fit',
    )
    .map((r) => r.name);
  const [recipe, setRecipe] = useState<string | null>(run.recommended ?? null);
  const [preview, setPreview] = useState<Preview>();
  const [previewError, setPreviewError] = useState<string>();
  const [applied, setApplied] = useState<string>();
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    if (!recipe) return;
    let live = true;
    studio.previewProfile({ runId: run.id, recipe }).then(
      (p) => {
        if (!live) return;
        setPreview(p);
        setPreviewError(undefined);
      },
      (e: unknown) => live && setPreviewError(errorText(e)),
    );
    return () => {
      live = false;
    };
  }, [recipe, run.id]);

  const apply = async (): Promise<void> => {
    if (!recipe) return;
    try {
      const p = await studio.saveProfile({ runId: run.id, recipe });
      const text = `"${p.name}" is now the default profile for ${p.model}: Generate uses it unless you pick another.`;
      setApplied(text);
      notifyDone('Profile applied', text);
    } catch (e) {
      notifyError('Could not save the profile', e, 'run the benchmark again, then apply');
    }
  };

  const shown = recipe && preview?.recipe === recipe ? preview : undefined;
  const outcome = run.recipes.find((r) => r.name === recipe);
  const degraded = outcome?.verdict === 'degraded';
  // The service refuses these without acknowledgeQuality: the confirmation says what is being accepted.
  const anyway = outcome !== undefined && NEEDS_ACKNOWLEDGEMENT.has(outcome.verdict);
  return (
    <Card withBorder data-testid="apply-profile">
      <Stack gap="xs">
        <Title order={4}>Apply as default profile</Title>
        {!run.recommended && (
          <Text size="sm" c="dimmed">
            Nothing beat the baseline beyond the noise, so the wizard recommends keeping your
            settings. You can still apply a measured recipe: one that failed the quality check says
            so below.
          </Text>
        )}
        <Group align="end">
          <Select
            label="Recipe"
            placeholder={choices.length ? 'pick a recipe' : 'no recipe passed'}
            data={choices.map((c) => ({
              value: c,
              label:
                c === run.recommended
                  ? `${c} (recommended)`
                  : run.recipes.find((r) => r.name === c)?.verdict === 'different-pixels'
                    ? `${c} (different pixels)`
                    : c,
            }))}
            value={recipe}
            onChange={setRecipe}
            w={260}
            data-testid="profile-recipe"
          />
          {anyway ? (
            <Button
              variant="light"
              color="orange"
              onClick={() => setConfirming(true)}
              disabled={!shown}
              data-testid="save-profile-anyway"
            >
              Apply anyway…
            </Button>
          ) : (
            <Button onClick={() => void apply()} disabled={!shown} data-testid="save-profile">
              Apply as default profile
            </Button>
          )}
        </Group>
        {previewError && <Alert color="yellow">{previewError}</Alert>}
        {degraded && outcome && (
          <Alert color="yellow" data-testid="profile-quality-warning">
            {outcome.name} failed the quality check against the baseline (SSIM{' '}
            {outcome.ssim?.toFixed(3) ?? '–'}, PSNR {outcome.psnr?.toFixed(1) ?? '–'} dB): its
            images differ visibly from what you get today. Compare them in the Gallery first.
          </Alert>
        )}
        {shown && (
          <div data-testid="profile-changes">
            <Text size="sm">
              Generate on {shown.model} will then
              {shown.replaces ? ` (replacing the profile "${shown.replaces}")` : ''}:
            </Text>
            <List size="sm">
              {shown.changes.map((c) => (
                <List.Item key={c}>{c}</List.Item>
              ))}
            </List>
            <Text size="xs" c="dimmed">
              Anything you set on the Generate page (steps, scheduler, provider) still wins.
            </Text>
          </div>
        )}
        {applied && (
          <Alert color="green" data-testid="profile-applied">
            {applied}
          </Alert>
        )}
      </Stack>
      <ApplyAnywayModal
        runId={run.id}
        recipe={confirming && outcome ? outcome : null}
        baseline={run.recipes[0]}
        thresholds={thresholds}
        onClose={() => setConfirming(false)}
        onApplied={setApplied}
      />
    </Card>
  );
}
