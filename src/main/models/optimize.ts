import * as ort from 'onnxruntime-node';
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StudioError } from '../../shared/errors';
import { appVersion, ortVersion } from '../versions';
import { modelFingerprint } from './fingerprint';
import { COMPONENTS } from './model-folder';

/** What `optimize` can write today, and why the rest is refused rather than faked. */
export const OPTIMIZE_RECIPES = {
  'graph-all':
    "ONNX Runtime's full graph optimizations (fusions, constant folding, CPU layouts) baked into the files",
} as const;
export type OptimizeRecipe = keyof typeof OPTIMIZE_RECIPES;

const NOT_BUILT: Record<string, string> = {
  int8: 'int8 quantization is not built into the studio yet',
  int4: 'int4 (MatMulNBits) quantization is not built into the studio yet',
  fp16: 'fp16 conversion is not built into the studio yet',
};

/**
 * Writes an optimized copy of a model folder, never touching the source: each ONNX component is
 * loaded with the recipe's settings and ORT's optimized graph is saved in its place, configs and
 * tokenizers are copied, and `latent-studio.json` records the source, its fingerprint, the recipe
 * and the tool versions. The result runs on the CPU provider it was optimized for.
 */
export async function optimizeModel(
  sourceDir: string,
  recipe: string,
  outDir: string,
  onProgress: (component: string) => void = () => {},
): Promise<{ outDir: string; components: string[] }> {
  if (!(recipe in OPTIMIZE_RECIPES)) {
    const why = NOT_BUILT[recipe] ?? `unknown optimize recipe "${recipe}"`;
    throw new StudioError(
      `${why}; available: ${Object.keys(OPTIMIZE_RECIPES).join(', ')}`,
      'bad-input',
    );
  }
  const out = resolve(outDir);
  if (out === resolve(sourceDir))
    throw new StudioError('--out must differ from the source model folder', 'bad-input');
  if (existsSync(out) && readdirSync(out).length > 0) {
    throw new StudioError(`${out} exists and is not empty; choose a new --out folder`, 'bad-input');
  }
  mkdirSync(out, { recursive: true });
  // Everything but the ONNX graphs and their weights is copied as is (configs, tokenizers, index).
  cpSync(sourceDir, out, {
    recursive: true,
    filter: (src) => !/\.(onnx|onnx_data|pb)$/.test(src) || src.endsWith('model_index.json'),
  });
  const done: string[] = [];
  for (const component of COMPONENTS) {
    const file = join(sourceDir, component, 'model.onnx');
    if (!existsSync(file)) continue;
    onProgress(component);
    mkdirSync(join(out, component), { recursive: true });
    const session = await ort.InferenceSession.create(file, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      optimizedModelFilePath: join(out, component, 'model.onnx'),
      extra: {
        session: {
          // Big weights stay in an external file, as real exports keep them (2 GB protobuf limit).
          optimized_model_external_initializers_file_name: 'model.onnx_data',
          optimized_model_external_initializers_min_size_in_bytes: '1024',
        },
      },
    });
    await session.release();
    done.push(component);
  }
  writeFileSync(
    join(out, 'latent-studio.json'),
    `${JSON.stringify(
      {
        source: resolve(sourceDir),
        sourceFingerprint: modelFingerprint(sourceDir),
        recipe,
        description: OPTIMIZE_RECIPES[recipe as OptimizeRecipe],
        provider: 'cpu',
        tool: { latentStudio: appVersion(), onnxruntimeNode: ortVersion() },
        createdAt: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
  return { outDir: out, components: done };
}
