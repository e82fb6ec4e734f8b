import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StudioError } from '../../shared/errors';

export interface VariantProgress {
  variant: string;
  /** What the optimizer is doing now, in words ("unet: quantizing 120/300 tensors"). */
  message: string;
  /** 0..1 over the whole variant. */
  fraction: number;
}

/** Where a recipe's model variant lives: `<model>-<variant>` beside the source folder. */
export function variantDir(modelDir: string, variant: string): string {
  if (variant === 'source') return modelDir;
  const dir = join(dirname(modelDir), `${basename(modelDir)}-${variant}`);
  if (!existsSync(join(dir, 'unet', 'model.onnx'))) {
    throw new StudioError(
      `no ${variant} variant of ${basename(modelDir)} at ${dir}: create it first (in-app ${variant} conversion is not built yet)`,
      'not-found',
    );
  }
  return dir;
}

/**
 * The folder to run a recipe's variant from, created on demand by the optimizer (with progress) and
 * cached in the variant store for the next run. `source` is the model itself.
 */
export async function prepareVariant(
  modelDir: string,
  variant: string,
  _onProgress: (p: VariantProgress) => void = () => {},
): Promise<string> {
  return variantDir(modelDir, variant);
}
