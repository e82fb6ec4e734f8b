import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ModelSummary } from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import { bundledModelsDir } from '../paths';
import { isModelFolder, summarizeModel } from './model-folder';

export const DEFAULT_MODEL = 'tiny-shapes';

/** Known models: the bundled ones, and folders under `<home>/models` (imported and optimized). */
export class ModelRegistry {
  constructor(private readonly home: string) {}

  private roots(): { dir: string; source: ModelSummary['source'] }[] {
    return [
      { dir: bundledModelsDir(), source: 'bundled' },
      { dir: join(this.home, 'models'), source: 'user' },
    ];
  }

  list(): ModelSummary[] {
    const models: ModelSummary[] = [];
    for (const root of this.roots()) {
      if (!existsSync(root.dir)) continue;
      for (const name of readdirSync(root.dir).sort()) {
        const dir = join(root.dir, name);
        if (!statSync(dir).isDirectory() || !isModelFolder(dir)) continue;
        const source = existsSync(join(dir, 'latent-studio.json')) ? 'optimized' : root.source;
        models.push(summarizeModel(name, dir, source));
      }
    }
    return models;
  }

  /** A model folder path, or the name of a known model. */
  resolve(nameOrPath: string): { name: string; dir: string } {
    const asPath = resolve(nameOrPath);
    if (existsSync(asPath) && statSync(asPath).isDirectory()) {
      if (!isModelFolder(asPath)) {
        throw new StudioError(
          `${asPath} is not a model folder: it has no model_index.json or unet/model.onnx. Point --model at an optimum/diffusers ONNX export.`,
          'bad-input',
        );
      }
      return { name: nameOrPath, dir: asPath };
    }
    for (const root of this.roots()) {
      const dir = join(root.dir, nameOrPath);
      if (!nameOrPath.includes('/') && existsSync(dir) && isModelFolder(dir))
        return { name: nameOrPath, dir };
    }
    const known = this.list().map((m) => m.name);
    throw new StudioError(
      `unknown model "${nameOrPath}": give a model folder path or one of: ${known.join(', ') || '(none installed)'}`,
      'not-found',
    );
  }
}
