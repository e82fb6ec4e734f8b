import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StudioError } from '../../shared/errors';

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
