import * as ort from 'onnxruntime-node';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { StudioError } from '../../shared/errors';
import {
  MANIFEST,
  checkOutDir,
  discardPartial,
  installPartial,
  partialDir,
  preparePartial,
} from './variant-files';

export { MANIFEST, partialDir };
import { modelFingerprint } from '../models/fingerprint';
import { appVersion, ortVersion } from '../versions';
import { OnnxModel, EXTERNAL_DATA_FILE } from './onnx-model';
import { chainTolerance, findOptimizeRecipe, MIN_COSINE, roleOf, type Transform } from './recipes';
import { checkComponent, checkShallowUnet, type CheckFigures } from './self-check';
import { makeShallowUnet } from './feature-cache';
import { applyTransform, type TransformReport } from './transforms';
import {
  loraComponentOf,
  mergeLoras,
  readLoras,
  type LoraPlanEntry,
  type LoraSpec,
  type MappedKey,
} from './lora-merge';

const ONNX_COMPONENTS = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'];
/** The feature cache's second UNet (the shallow branch), beside `unet/`. */
export const SHALLOW_UNET = 'unet_shallow';

export interface BuildProgress {
  component: string;
  phase: 'transform' | 'write' | 'check' | 'copy' | 'done';
  /** 0..1 over the whole model. */
  fraction: number;
  message: string;
}

export interface ComponentManifest {
  transforms: Transform[];
  reports: TransformReport[];
  check?: CheckFigures & { minCosine: number };
  bytesBefore: number;
  bytesAfter: number;
  /** Transform and write time. */
  ms: number;
  checkMs?: number;
}

export interface VariantManifest {
  kind: 'latent-studio-variant';
  source: string;
  sourceFingerprint: string;
  recipe: string;
  recipeVersion: number;
  description: string;
  components: Record<string, ComponentManifest>;
  tool: { latentStudio: string; onnxruntimeNode: string; onnxBuf: string };
  createdAt: string;
  transformMs: number;
  /** Peak RSS of the worker after every component was transformed and written (before checks). */
  transformPeakRssMb: number;
  /** Peak RSS including the self-checks, which load source and variant in ONNX Runtime. */
  peakRssMb: number;
  /** LoRAs merged in (recipe `lora`, or any recipe built with LoRAs): each file, and every key mapped. */
  loras?: {
    file: string;
    sha256: string;
    scale: number;
    format: 'kohya' | 'peft';
    keys: number;
    mapped: (MappedKey & { component: string })[];
  }[];
  /** Wall time of the LoRA merge alone (mapping, up·down products, writing the merged weights). */
  loraMergeMs?: number;
}

export interface BuildOptions {
  force?: boolean;
  /** LoRAs merged into the UNet / text encoders before the recipe's own transforms. */
  loras?: LoraSpec[];
  /** Free bytes where the variant goes (default: the file system's own figure). */
  freeBytes?: (dir: string) => number;
  onProgress?: (p: BuildProgress) => void;
}

const onnxBufVersion = (): string => {
  try {
    const require = createRequire(import.meta.url);
    return (require('onnx-buf/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

function freeBytesAt(dir: string): number {
  const fsStats = statfsSync(dir);
  return Number(fsStats.bavail) * Number(fsStats.bsize);
}

const maxRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/**
 * Writes an optimized copy of a model folder: each component's recipe transforms run on the
 * decoded graph, the result is written tensor by tensor, loaded in ONNX Runtime and compared with
 * the source on fixed inputs before it is kept. Everything goes into `<out>/.latent-studio.partial`
 * and is moved into place only when every component passed, the manifest last, so no half-written
 * variant is ever taken for one.
 */
export async function buildVariant(
  sourceDir: string,
  recipeName: string,
  outDir: string,
  options: BuildOptions = {},
): Promise<{ outDir: string; components: string[]; manifest: VariantManifest }> {
  const recipe = findOptimizeRecipe(recipeName);
  const source = resolve(sourceDir);
  const out = resolve(outDir);
  if (!existsSync(join(source, 'unet', 'model.onnx'))) {
    throw new StudioError(`${source} is not a model folder (no unet/model.onnx)`, 'bad-input');
  }
  // Never the source, a folder holding it, or (with force) a folder the studio did not write.
  const claim = checkOutDir(source, out, options.force ?? false);
  const createdOut = claim === 'new';
  const loras: LoraPlanEntry[] = options.loras?.length ? readLoras(options.loras) : [];
  if (recipe.name === 'lora' && loras.length === 0) {
    throw new StudioError(
      'the lora recipe needs at least one LoRA file (--lora FILE[:scale])',
      'bad-input',
    );
  }
  const loraComponents = new Set(loras.flatMap((l) => l.modules.map((m) => m.component)));
  for (const c of loraComponents) {
    if (!existsSync(join(source, c, 'model.onnx'))) {
      throw new StudioError(
        `the LoRA has ${c} keys but ${source} has no ${c}/model.onnx; is it for another model family? nothing was merged`,
        'bad-input',
      );
    }
  }
  const mappedKeys = new Map<string, (MappedKey & { component: string })[]>();
  let loraMergeMs = 0;
  const sourceBytes = dirBytes(source);
  mkdirSync(dirname(out), { recursive: true });
  const free = (options.freeBytes ?? freeBytesAt)(dirname(out));
  // Upper bound: no transform makes a component larger than its source (+5% for alignment).
  const needed = Math.ceil(sourceBytes * 1.05);
  if (free < needed) {
    throw new StudioError(
      `not enough disk space at ${dirname(out)}: the ${recipe.name} variant needs up to ${(needed / 1e9).toFixed(2)} GB, ${(free / 1e9).toFixed(2)} GB is free; free some space or choose another --out`,
      'too-large',
    );
  }
  const tmp = preparePartial(out, claim);
  const started = performance.now();
  const progress = options.onProgress ?? (() => {});
  try {
    // Configs, tokenizers and the index come along as they are; ONNX files are written per component.
    cpSync(source, tmp, {
      recursive: true,
      filter: (src) => {
        const rel = src.slice(source.length + 1);
        const top = rel.split(/[\\/]/)[0];
        if (rel === MANIFEST) return false;
        return !ONNX_COMPONENTS.includes(top) || !/\.(onnx|onnx_data|pb)$/.test(rel);
      },
    });
    const present = ONNX_COMPONENTS.filter((c) => existsSync(join(source, c, 'model.onnx')));
    const components: Record<string, ComponentManifest> = {};
    for (const [index, component] of present.entries()) {
      const role = roleOf(component);
      const loraComponent = loraComponentOf(component);
      const withLora = loraComponent !== undefined && loraComponents.has(loraComponent);
      const transforms: Transform[] = [
        ...(withLora ? (['lora'] as const) : []),
        ...((role && recipe.components[role]) || []),
      ];
      const at = (phase: BuildProgress['phase'], part: number, message: string): void =>
        progress({ component, phase, fraction: (0.5 * (index + part)) / present.length, message });
      const srcFile = join(source, component, 'model.onnx');
      const compOut = join(tmp, component);
      mkdirSync(compOut, { recursive: true });
      const t0 = performance.now();
      const bytesBefore = dirBytes(join(source, component));
      if (transforms.length === 0) {
        at('copy', 0, `${component}: copied unchanged`);
        copyComponent(join(source, component), compOut);
        components[component] = {
          transforms,
          reports: [],
          bytesBefore,
          bytesAfter: bytesBefore,
          ms: 0,
        };
        continue;
      }
      const reports: TransformReport[] = [];
      if (transforms.includes('ort-all') && withLora) {
        throw new StudioError(
          `the ${recipe.name} recipe cannot be combined with LoRAs`,
          'bad-input',
        );
      }
      if (transforms.includes('ort-all')) {
        at('transform', 0, `${component}: ONNX Runtime graph optimizations`);
        await writeOrtOptimized(srcFile, join(compOut, 'model.onnx'));
      } else {
        const model = OnnxModel.read(srcFile);
        const afterWrite: (() => void)[] = [];
        try {
          for (const t of transforms) {
            at('transform', 0.1, `${component}: ${t}`);
            if (t === 'lora' && loraComponent) {
              const tm = performance.now();
              const r = mergeLoras(model, loraComponent, loras);
              loraMergeMs += performance.now() - tm;
              for (const k of r.mapped) {
                const list = mappedKeys.get(k.file) ?? [];
                list.push({ ...k, component });
                mappedKeys.set(k.file, list);
              }
              const details: Record<string, number> = { keys: r.mapped.length };
              reports.push({ transform: 'lora', changed: r.weightsChanged, left: [], details });
              // Filled in by the write below, where the merged weights are computed: whether the
              // up·down products ran in ONNX Runtime (1) or the JavaScript fallback (0), and their time.
              afterWrite.push(() => {
                details.onnxruntimeGemm = r.stats.kernel === 'onnxruntime' ? 1 : 0;
                details.upDownMs = Math.round(r.stats.productMs);
                if (r.stats.fallbackReason) console.warn(`LoRA merge: ${r.stats.fallbackReason}`);
              });
            } else
              reports.push(
                applyTransform(model, t as Exclude<Transform, 'ort-all' | 'lora'>, {
                  cacheBranch: recipe.cacheBranch,
                }),
              );
          }
          const tw = performance.now();
          model.write(compOut, (done, total) => {
            if (done % 25 === 0 || done === total)
              at(
                'write',
                0.2 + 0.6 * (done / total),
                `${component}: writing tensor ${done}/${total}`,
              );
          });
          // The merged weights are computed while they are written.
          if (withLora) loraMergeMs += performance.now() - tw;
          for (const f of afterWrite) f();
        } finally {
          model.close();
        }
      }
      for (const f of readdirSync(join(source, component))) {
        if (!/\.(onnx|onnx_data|pb)$/.test(f) && !existsSync(join(compOut, f)))
          copyFileSync(join(source, component, f), join(compOut, f));
      }
      components[component] = {
        transforms,
        reports,
        bytesBefore,
        bytesAfter: dirBytes(compOut),
        ms: Math.round(performance.now() - t0),
      };
      if (transforms.includes('feature-cache')) {
        at('write', 0.9, `${component}: writing the shallow UNet of the feature cache`);
        components[SHALLOW_UNET] = writeShallowUnet(compOut, join(tmp, SHALLOW_UNET));
      }
    }
    // Every component is written before any is loaded for its check, so this is the transform's
    // own peak: the graph plus the tensors in flight, not an ONNX Runtime session.
    const transformPeakRssMb = maxRssMb();
    if (components[SHALLOW_UNET]) {
      progress({
        component: SHALLOW_UNET,
        phase: 'check',
        fraction: 0.5,
        message: `${SHALLOW_UNET}: checking it reproduces the full UNet on its cached feature`,
      });
      const t0 = performance.now();
      const figures = await checkShallowUnet(
        join(tmp, 'unet', 'model.onnx'),
        join(tmp, SHALLOW_UNET, 'model.onnx'),
        source,
      );
      const minCosine = MIN_COSINE['feature-cache'];
      if (figures.nanCount > 0 || !(figures.cosine >= minCosine)) {
        throw new StudioError(
          `the ${recipe.name} shallow UNet does not reproduce the full UNet on its own cached feature: cosine ${figures.cosine.toFixed(5)} (needs ≥ ${minCosine}), max |diff| ${figures.maxAbsDiff.toPrecision(3)}; it was not kept`,
          'failed',
        );
      }
      components[SHALLOW_UNET].check = { ...figures, minCosine };
      components[SHALLOW_UNET].checkMs = Math.round(performance.now() - t0);
    }
    for (const [index, component] of present.entries()) {
      const entry = components[component];
      if (entry.transforms.length === 0) continue;
      progress({
        component,
        phase: 'check',
        fraction: 0.5 + (0.5 * index) / present.length,
        message: `${component}: checking against the source in ONNX Runtime`,
      });
      const t0 = performance.now();
      const figures = await checkComponent(
        join(source, component, 'model.onnx'),
        join(tmp, component, 'model.onnx'),
        component,
        source,
      );
      const minCosine = chainTolerance(entry.transforms);
      const drifted = figures.deterministic && !(figures.cosine >= minCosine);
      if (figures.nanCount > 0 || drifted) {
        throw new StudioError(
          `the ${recipe.name} ${component} drifted from the source: cosine ${figures.cosine.toFixed(5)} (needs ≥ ${minCosine}), max |diff| ${figures.maxAbsDiff.toPrecision(3)}, ${figures.nanCount} NaN/inf values; it was not kept`,
          'failed',
        );
      }
      entry.check = { ...figures, minCosine };
      entry.checkMs = Math.round(performance.now() - t0);
    }
    const manifest: VariantManifest = {
      kind: 'latent-studio-variant',
      source,
      sourceFingerprint: modelFingerprint(source),
      recipe: recipe.name,
      recipeVersion: recipe.version,
      description: recipe.description,
      components,
      tool: {
        latentStudio: appVersion(),
        onnxruntimeNode: ortVersion(),
        onnxBuf: onnxBufVersion(),
      },
      createdAt: new Date().toISOString(),
      transformMs: Math.round(performance.now() - started),
      transformPeakRssMb,
      peakRssMb: maxRssMb(),
      ...(loras.length > 0
        ? {
            loras: loras.map((l) => ({
              file: l.file,
              sha256: l.sha256,
              scale: l.spec.scale,
              format: l.format,
              keys: l.modules.length,
              mapped: mappedKeys.get(l.file) ?? [],
            })),
            loraMergeMs: Math.round(loraMergeMs),
          }
        : {}),
    };
    writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    installPartial(out, claim);
    progress({ component: '', phase: 'done', fraction: 1, message: `wrote ${out}` });
    return { outDir: out, components: present, manifest };
  } catch (e) {
    discardPartial(out, createdOut);
    throw e;
  }
}

/** The feature cache's second UNet, cut from the full one just written (feature-cache.ts). */
function writeShallowUnet(fullDir: string, outDir: string): ComponentManifest {
  const t0 = performance.now();
  mkdirSync(outDir, { recursive: true });
  const model = OnnxModel.read(join(fullDir, 'model.onnx'));
  try {
    const r = makeShallowUnet(model);
    model.write(outDir);
    for (const f of readdirSync(fullDir))
      if (!/\.(onnx|onnx_data|pb)$/.test(f)) copyFileSync(join(fullDir, f), join(outDir, f));
    return {
      transforms: ['feature-cache'],
      reports: [
        {
          transform: 'feature-cache',
          changed: r.nodesBefore - r.nodesAfter,
          left: [],
          details: { nodesBefore: r.nodesBefore, nodesAfter: r.nodesAfter },
        },
      ],
      bytesBefore: dirBytes(fullDir),
      bytesAfter: dirBytes(outDir),
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    model.close();
  }
}

function copyComponent(from: string, to: string): void {
  for (const f of readdirSync(from)) {
    const p = join(from, f);
    if (statSync(p).isFile()) copyFileSync(p, join(to, f));
  }
}

/** ORT's own optimizer writes the graph-all form; big weights stay in external data. */
async function writeOrtOptimized(srcFile: string, outFile: string): Promise<void> {
  const session = await ort.InferenceSession.create(srcFile, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    optimizedModelFilePath: outFile,
    extra: {
      session: {
        optimized_model_external_initializers_file_name: EXTERNAL_DATA_FILE,
        optimized_model_external_initializers_min_size_in_bytes: '1024',
      },
    },
  });
  await session.release();
}
