import { studioHome } from '../paths';
import { ensureVariant } from '../optimize/variant-store';
import { OPTIMIZE_RECIPES } from '../optimize/recipes';

export interface VariantProgress {
  variant: string;
  /** What the optimizer is doing now, in words ("unet: writing tensor 120/300"). */
  message: string;
  /** 0..1 over the whole variant. */
  fraction: number;
}

/** Variants the optimizer can build for any model (a recipe's `variant` other than `source`). */
export function canBuildVariant(variant: string): boolean {
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
