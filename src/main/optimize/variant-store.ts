import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { modelFingerprint } from '../models/fingerprint';
import type { BuildProgress } from './build-variant';
import { MANIFEST } from './variant-files';
import { runOptimizeJob } from './optimize-client';
import { findOptimizeRecipe } from './recipes';
import type { LoraSpec } from './lora-merge';
import { loraHashes } from './lora-hash';
import { peftConfigFileFor } from './peft-config';

const ManifestHead = z.looseObject({
  kind: z.literal('latent-studio-variant'),
  sourceFingerprint: z.string(),
  recipe: z.string(),
  recipeVersion: z.number(),
});

/**
 * The model's name in variant folder names: its folder name, except for a Hugging Face cache
 * snapshot (`models--owner--name/snapshots/<commit>[/sub]`), whose folder is a commit hash or a
 * generic `onnx`: there the repo (and subfolder) name it, so two repos never share a variant.
 */
export function variantModelName(modelDir: string): string {
  const parts = resolve(modelDir).split(/[\\/]/);
  const snap = parts.lastIndexOf('snapshots');
  if (snap > 0 && parts[snap - 1].startsWith('models--')) {
    const repo = parts[snap - 1].slice('models--'.length);
    const sub = parts.slice(snap + 2).join('-');
    return sub ? `${repo}--${sub}` : repo;
  }
  return basename(resolve(modelDir));
}

/** `LATENT_STUDIO_HOME/models/<model>--<recipe>/`: never beside a (possibly read-only) source. */
export function variantStorePath(home: string, modelDir: string, recipe: string): string {
  return join(home, 'models', `${variantModelName(modelDir)}--${recipe}`);
}

/**
 * The manifest head of a stored variant read with `schema`, or why it cannot be used: the checks
 * every kind of variant shares (present, readable, the recipe and its version, the source's
 * fingerprint). The caller adds its own checks on the head.
 */
export function readCurrentHead<T extends typeof ManifestHead>(
  variantDir: string,
  modelDir: string,
  recipe: { name: string; version: number },
  schema: T,
): { head: z.infer<T> } | { reason: string } {
  const file = join(variantDir, MANIFEST);
  if (!existsSync(file)) return { reason: 'not built yet' };
  let head: z.infer<T>;
  try {
    head = schema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return { reason: 'its manifest is unreadable' };
  }
  if (head.recipe !== recipe.name) return { reason: `it holds recipe ${head.recipe}` };
  if (head.recipeVersion !== recipe.version) return { reason: 'the recipe changed since' };
  if (head.sourceFingerprint !== modelFingerprint(modelDir))
    return { reason: 'the source model changed since' };
  return { head };
}

/** The manifest head every variant shares (a kind of variant extends it with its own fields). */
export const VariantManifestHead = ManifestHead;

/** Why a stored variant cannot be used as it is (undefined: it is current). */
export function staleReason(
  variantDir: string,
  modelDir: string,
  recipe: string,
): string | undefined {
  const r = readCurrentHead(
    variantDir,
    modelDir,
    { name: recipe, version: findOptimizeRecipe(recipe).version },
    ManifestHead,
  );
  return 'reason' in r ? r.reason : undefined;
}

/**
 * The folder of a model's variant, built on first use (in the optimize worker, with progress) and
 * reused while its manifest's source fingerprint and recipe version match; a stale one is rebuilt,
 * never used.
 */
export async function ensureVariant(
  home: string,
  modelDir: string,
  recipe: string,
  onProgress: (p: BuildProgress & { reason: string }) => void = () => {},
  signal?: AbortSignal,
): Promise<string> {
  // The canonical name: `int8+attention` and `attention+int8` are one variant in the store.
  const name = findOptimizeRecipe(recipe).name;
  const dir = variantStorePath(home, modelDir, name);
  // A second caller wanting the same variant (a benchmark and a generate) waits for that build.
  const pending = building.get(dir);
  if (pending) return pending;
  const reason = staleReason(dir, modelDir, name);
  if (!reason) return dir;
  const build = runOptimizeJob(
    { sourceDir: resolve(modelDir), recipe: name, outDir: dir, force: true },
    (p) => onProgress({ ...p, reason }),
    signal,
  )
    .then(() => dir)
    .finally(() => building.delete(dir));
  building.set(dir, build);
  return build;
}

/** Variant builds in flight in this process, by folder. */
const building = new Map<string, Promise<string>>();

/**
 * The cache identity of a model + LoRAs (+ a recipe stacked after them): the LoRA files' content
 * hashes and scales in order, so renaming or moving a file reuses its variant, and editing it (or
 * changing a scale) builds a new one.
 */
export function loraVariantName(
  loras: readonly LoraSpec[],
  recipe = 'lora',
  /** Where hashes are remembered across processes (see lora-hash); absent: this process only. */
  home?: string,
): string {
  // Hashed once per file version, not on every generate. A PEFT adapter's alpha lives in the
  // adapter_config.json beside it: its text is part of the name, so a changed alpha rebuilds.
  const id = loras
    .map((l) => {
      const config = peftConfigFileFor(resolve(l.path));
      const cfg = config
        ? `:${createHash('sha256').update(readFileSync(config)).digest('hex').slice(0, 16)}`
        : '';
      return `${loraHashes.sha256(l.path, home)}:${l.scale}${cfg}`;
    })
    .join('|');
  const hash = createHash('sha256').update(`${recipe}|${id}`).digest('hex').slice(0, 12);
  return recipe === 'lora' ? `lora-${hash}` : `${recipe}+lora-${hash}`;
}

/**
 * A model with LoRAs merged in, built on first use in the optimize worker and cached under
 * `<home>/models/<model>--lora-<hash>/` (hash of the LoRA contents, scales and the recipe); rebuilt
 * when the source model changed.
 */
export async function ensureLoraVariant(
  home: string,
  modelDir: string,
  loras: readonly LoraSpec[],
  onProgress: (p: BuildProgress & { reason: string }) => void = () => {},
  signal?: AbortSignal,
  recipe = 'lora',
): Promise<string> {
  findOptimizeRecipe(recipe);
  const specs = loras.map((l) => ({ path: resolve(l.path), scale: l.scale }));
  const dir = join(
    home,
    'models',
    `${basename(resolve(modelDir))}--${loraVariantName(specs, recipe, home)}`,
  );
  const reason = staleReason(dir, modelDir, recipe);
  if (!reason) return dir;
  await runOptimizeJob(
    { sourceDir: resolve(modelDir), recipe, outDir: dir, force: true, loras: specs },
    (p) => onProgress({ ...p, reason }),
    signal,
  );
  return dir;
}
