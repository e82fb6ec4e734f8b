import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { modelFingerprint } from '../models/fingerprint';
import { MANIFEST, type BuildProgress } from './build-variant';
import { runOptimizeJob } from './optimize-client';
import { findOptimizeRecipe } from './recipes';

const ManifestHead = z.looseObject({
  kind: z.literal('latent-studio-variant'),
  sourceFingerprint: z.string(),
  recipe: z.string(),
  recipeVersion: z.number(),
});

/** `LATENT_STUDIO_HOME/models/<model>--<recipe>/`: never beside a (possibly read-only) source. */
export function variantStorePath(home: string, modelDir: string, recipe: string): string {
  return join(home, 'models', `${basename(resolve(modelDir))}--${recipe}`);
}

/** Why a stored variant cannot be used as it is (undefined: it is current). */
export function staleReason(
  variantDir: string,
  modelDir: string,
  recipe: string,
): string | undefined {
  const file = join(variantDir, MANIFEST);
  if (!existsSync(file)) return 'not built yet';
  let head: z.infer<typeof ManifestHead>;
  try {
    head = ManifestHead.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return 'its manifest is unreadable';
  }
  if (head.recipe !== recipe) return `it holds recipe ${head.recipe}`;
  if (head.recipeVersion !== findOptimizeRecipe(recipe).version) return 'the recipe changed since';
  if (head.sourceFingerprint !== modelFingerprint(modelDir))
    return 'the source model changed since';
  return undefined;
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
  findOptimizeRecipe(recipe);
  const dir = variantStorePath(home, modelDir, recipe);
  const reason = staleReason(dir, modelDir, recipe);
  if (!reason) return dir;
  await runOptimizeJob(
    { sourceDir: resolve(modelDir), recipe, outDir: dir, force: true },
    (p) => onProgress({ ...p, reason }),
    signal,
  );
  return dir;
}
