import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import type { ModelSummary } from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import { bundledModelsDir } from '../paths';
import { detectFamily, isModelFolder, summarizeModel } from './model-folder';

const RegisteredSchema = z.array(z.object({ name: z.string().min(1), path: z.string().min(1) }));
type Registered = z.infer<typeof RegisteredSchema>;

export const DEFAULT_MODEL = 'tiny-shapes';

/** Models that live elsewhere than the registry's own folders (the Hugging Face cache, see src/main/hub/). */
export interface ExternalModels {
  list(): ModelSummary[];
  resolve(name: string): { name: string; dir: string } | undefined;
}

const ManifestSource = z.looseObject({ source: z.string().optional() });

/** The model an optimized variant was built from, as its manifest records it. */
function variantSource(dir: string): string | undefined {
  try {
    return ManifestSource.parse(JSON.parse(readFileSync(join(dir, 'latent-studio.json'), 'utf8')))
      .source;
  } catch {
    return undefined;
  }
}

/**
 * Known models: the bundled ones, folders under `<home>/models` (imported and optimized), and model
 * folders anywhere on disk that the user registered by path (`<home>/registered-models.json`).
 */
export class ModelRegistry {
  constructor(
    private readonly home: string,
    private readonly external?: ExternalModels,
  ) {}

  private get registryFile(): string {
    return join(this.home, 'registered-models.json');
  }

  private registered(): Registered {
    if (!existsSync(this.registryFile)) return [];
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.registryFile, 'utf8'));
    } catch {
      throw new StudioError(
        `${this.registryFile} is not readable JSON; fix or delete it`,
        'unavailable',
      );
    }
    const parsed = RegisteredSchema.safeParse(raw);
    if (!parsed.success) {
      throw new StudioError(
        `${this.registryFile} is not a list of {name, path}; fix or delete it`,
        'unavailable',
      );
    }
    return parsed.data;
  }

  /** Remembers a model folder by path (it stays where it is; nothing is copied). */
  register(path: string, name?: string): ModelSummary {
    const dir = resolve(path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new StudioError(`path: ${dir} is not a folder`, 'bad-input');
    }
    if (!isModelFolder(dir) || !existsSync(join(dir, 'unet', 'model.onnx'))) {
      throw new StudioError(
        `path: ${dir} is not a Stable Diffusion ONNX export (it needs model_index.json and unet/model.onnx, as optimum-cli export onnx writes them)`,
        'bad-input',
      );
    }
    if (detectFamily(dir) === 'unknown') {
      throw new StudioError(
        `path: ${dir}: could not tell the model family from its files`,
        'bad-input',
      );
    }
    const chosen = name ?? basename(dir);
    if (!/^[\w.+-]+$/.test(chosen)) {
      throw new StudioError(
        `name: use letters, digits, ".", "+", "-" or "_" (got "${chosen}")`,
        'bad-input',
      );
    }
    const taken = this.list().find((m) => m.name === chosen);
    if (taken && taken.path !== dir) {
      throw new StudioError(
        `name: "${chosen}" is already used by ${taken.path}; choose another name`,
        'bad-input',
      );
    }
    const entries = this.registered().filter((e) => e.name !== chosen);
    entries.push({ name: chosen, path: dir });
    writeFileSync(this.registryFile, `${JSON.stringify(entries, null, 2)}\n`);
    return summarizeModel(chosen, dir, 'user');
  }

  /** Forgets a registered model (its files are left alone). */
  unregister(name: string): boolean {
    const entries = this.registered();
    const kept = entries.filter((e) => e.name !== name);
    if (kept.length === entries.length) return false;
    writeFileSync(this.registryFile, `${JSON.stringify(kept, null, 2)}\n`);
    return true;
  }

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
        const optimized = existsSync(join(dir, 'latent-studio.json'));
        const summary = summarizeModel(name, dir, optimized ? 'optimized' : root.source);
        const variantOf = optimized ? variantSource(dir) : undefined;
        models.push(variantOf ? { ...summary, variantOf } : summary);
      }
    }
    for (const entry of this.registered()) {
      // A registered folder that was moved or deleted is skipped, not an error for every listing.
      if (!existsSync(entry.path) || !isModelFolder(entry.path)) continue;
      if (models.some((m) => m.name === entry.name)) continue;
      models.push(summarizeModel(entry.name, entry.path, 'user'));
    }
    for (const m of this.external?.list() ?? []) {
      if (!models.some((known) => known.name === m.name)) models.push(m);
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
    const registered = this.registered().find((e) => e.name === nameOrPath);
    if (registered) {
      if (!existsSync(registered.path)) {
        throw new StudioError(
          `model "${nameOrPath}" was registered at ${registered.path}, which no longer exists; register it again`,
          'not-found',
        );
      }
      return { name: nameOrPath, dir: registered.path };
    }
    const external = this.external?.resolve(nameOrPath);
    if (external) return external;
    const known = this.list().map((m) => m.name);
    throw new StudioError(
      `unknown model "${nameOrPath}": give a model folder path or one of: ${known.join(', ') || '(none installed)'}`,
      'not-found',
    );
  }
}
