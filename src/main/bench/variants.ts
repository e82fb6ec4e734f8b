import { studioHome } from '../paths';
import { ensureVariant } from '../optimize/variant-store';
import { OPTIMIZE_RECIPES } from '../optimize/recipes';
import { ensureLoraVariant } from '../optimize/variant-store';
import { findLcmLora } from '../optimize/bundled-loras';
import { detectFamily } from '../models/model-folder';
import { StudioError } from '../../shared/errors';

/** The distilled tier's variant: the model with its family's LCM-LoRA merged (see bundled-loras). */
export const LCM_LORA_VARIANT = 'lcm-lora';

export interface VariantProgress {
  variant: string;
  /** What the optimizer is doing now, in words ("unet: writing tensor 120/300"). */
  message: string;
  /** 0..1 over the whole variant. */
  fraction: number;
}

/** Variants the optimizer can build for any model (a recipe's `variant` other than `source`). */
export function canBuildVariant(
  variant: string,
  modelDir?: string,
  family?: string,
  home: string = studioHome(),
): boolean {
  if (variant === LCM_LORA_VARIANT)
    return modelDir !== undefined && findLcmLora(modelDir, family, home) !== undefined;
  return variant === 'source' || OPTIMIZE_RECIPES.some((r) => r.name === variant);
}

/**
 * The folder to run a recipe's variant from: `source` is the model itself; anything else is built
 * on demand by the optimizer (in its worker, with progress) and cached in the variant store
 * (`<home>/models/<model>--<variant>`) for the next run. A cached variant whose source changed is
 * rebuilt, never used.
 */
export async function prepareVariant(
  modelDir: string,
  variant: string,
  onProgress: (p: VariantProgress) => void = () => {},
  home: string = studioHome(),
  signal?: AbortSignal,
): Promise<string> {
  if (variant === 'source') return modelDir;
  const report = (p: { fraction: number; message: string; reason: string }): void =>
    onProgress({
      variant,
      fraction: p.fraction,
      message: `building the ${variant} variant (${p.reason}): ${p.message}`,
    });
  if (variant === LCM_LORA_VARIANT) {
    const card = findLcmLora(modelDir, safeFamily(modelDir), home);
    if (!card) {
      throw new StudioError(
        `no LCM-LoRA is known for ${modelDir}: put one with a card (kind "lcm-lora", its family) in ${home}/loras/`,
        'not-found',
      );
    }
    return ensureLoraVariant(
      home,
      modelDir,
      [{ path: card.path, scale: card.scale }],
      report,
      signal,
    );
  }
  return ensureVariant(
    home,
    modelDir,
    variant,
    (p) =>
      onProgress({
        variant,
        fraction: p.fraction,
        message: `building the ${variant} variant (${p.reason}): ${p.message}`,
      }),
    signal,
  );
}

function safeFamily(modelDir: string): string | undefined {
  try {
    return detectFamily(modelDir);
  } catch {
    return undefined;
  }
}
