import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import { modelFingerprint } from '../models/fingerprint';
import { detectFamily } from '../models/model-folder';
import { appVersion, ortVersion } from '../versions';
import { OnnxModel } from './onnx-model';
import { MANIFEST } from './variant-files';
import { readCurrentHead, VariantManifestHead, variantStorePath } from './variant-store';

/**
 * The `tiny-vae` variant: the model with its `vae_decoder` replaced by a TAESD-family decoder
 * (madebyollin/taesd: ~1.2 M parameters against the SD VAE decoder's ~49 M), every other file
 * hard-linked from the source (copied where links cannot be made). No graph is rewritten and no
 * ONNX Runtime is needed: the variant is built in the calling process in well under a second.
 *
 * Where decoders come from: `<home>/vae/<name>/vae_decoder/model.onnx` + `config.json`, the
 * diffusers AutoencoderTiny layout, whose config must say
 *   "_class_name": "AutoencoderTiny", "latent_family": "sd1" | "sdxl",
 * and may say "scaling_factor" (AutoencoderTiny's is 1.0: the UNet's latents are decoded as they
 * are) and "output_range" ([0, 1] for the raw TAESD decoder; absent: diffusers' [-1, 1]). A
 * decoder is used only for models of its latent family; of several, the first by folder name.
 * The engine reads the scaling factor and range from the variant's vae_decoder/config.json
 * (engine/model-loader.ts), so nothing else in the pipeline knows which decoder it runs.
 */

export const TINY_VAE_VARIANT = 'tiny-vae';
/** Bumped when what the variant holds changes, so stored ones are rebuilt. */
export const TINY_VAE_VERSION = 1;
/** `<home>/vae/`: a person's tiny decoders, one folder each. */
export const TINY_VAE_FOLDER = 'vae';

const TinyVaeConfigSchema = z.looseObject({
  _class_name: z.literal('AutoencoderTiny'),
  latent_family: z.string().min(1),
  latent_channels: z.number().int().positive().optional(),
  scaling_factor: z.number().positive().optional(),
  output_range: z
    .tuple([z.number(), z.number()])
    .refine(([lo, hi]) => lo < hi, 'must be [low, high] with low < high')
    .optional(),
});

/** A tiny decoder found under `<home>/vae/`. */
export interface TinyVae {
  name: string;
  /** `<home>/vae/<name>` (holds `vae_decoder/`). */
  dir: string;
  latentFamily: string;
  latentChannels: number;
  scalingFactor: number;
  outputRange: readonly [number, number];
}

/**
 * The latent space a model's VAE works in: its vae_decoder config's own `latent_family` if it
 * names one, else from the model family: SDXL's VAE for `sdxl`, SD 1.x's for every other family
 * (SD 2.x, SD-Turbo and the SD 1.5 LCMs share SD 1.x's VAE; LCM-SDXL is detected as `sdxl`).
 */
export function modelLatentFamily(modelDir: string, family?: string): string | undefined {
  const config = join(modelDir, 'vae_decoder', 'config.json');
  try {
    const own = z
      .looseObject({ latent_family: z.string().min(1).optional() })
      .parse(JSON.parse(readFileSync(config, 'utf8'))).latent_family;
    if (own) return own;
  } catch {
    // No config or an unreadable one: the model family decides.
  }
  const f = family ?? safeFamily(modelDir);
  if (f === 'sdxl') return 'sdxl';
  if (f === 'sd1' || f === 'sd2' || f === 'sd-turbo' || f === 'lcm') return 'sd1';
  return undefined;
}

function safeFamily(modelDir: string): string | undefined {
  try {
    return detectFamily(modelDir);
  } catch {
    return undefined;
  }
}

/** Every tiny decoder under `<home>/vae/`, by folder name, and why the others were passed over. */
export function listTinyVaes(home: string): { found: TinyVae[]; problems: string[] } {
  const root = join(home, TINY_VAE_FOLDER);
  const found: TinyVae[] = [];
  const problems: string[] = [];
  if (!existsSync(root)) return { found, problems };
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    const model = join(dir, 'vae_decoder', 'model.onnx');
    const configFile = join(dir, 'vae_decoder', 'config.json');
    if (!existsSync(model)) {
      problems.push(`${name}: no vae_decoder/model.onnx`);
      continue;
    }
    if (!existsSync(configFile)) {
      problems.push(`${name}: no vae_decoder/config.json`);
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch {
      problems.push(`${name}: vae_decoder/config.json is not readable JSON`);
      continue;
    }
    const parsed = TinyVaeConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push(
        `${name}: vae_decoder/config.json ${issue.path.join('.') || 'file'}: ${issue.message} (needs "_class_name": "AutoencoderTiny" and "latent_family")`,
      );
      continue;
    }
    const c = parsed.data;
    found.push({
      name,
      dir,
      latentFamily: c.latent_family,
      latentChannels: c.latent_channels ?? 4,
      scalingFactor: c.scaling_factor ?? 1,
      outputRange: c.output_range ?? [-1, 1],
    });
  }
  return { found, problems };
}

/** The tiny decoder for this latent family (the first by folder name), if any. */
export function findTinyVae(home: string, latentFamily: string | undefined): TinyVae | undefined {
  if (latentFamily === undefined) return undefined;
  return listTinyVaes(home).found.find((v) => v.latentFamily === latentFamily);
}

/** Why no tiny decoder can be used for this model, in a sentence with the fix; undefined: one can. */
export function tinyVaeRefusal(
  home: string,
  modelDir: string,
  family?: string,
): string | undefined {
  const latent = modelLatentFamily(modelDir, family);
  if (latent === undefined)
    return `the ${TINY_VAE_VARIANT} variant needs to know ${modelDir}'s latent family, and its family is unknown`;
  if (findTinyVae(home, latent)) return undefined;
  const { found, problems } = listTinyVaes(home);
  const others = found.map((v) => `${v.name} (${v.latentFamily})`);
  return [
    `no tiny VAE decoder for the ${latent} latent family in ${join(home, TINY_VAE_FOLDER)}: put a TAESD decoder there as <name>/vae_decoder/model.onnx with a config.json saying "_class_name": "AutoencoderTiny", "latent_family": "${latent}" (and "output_range": [0, 1] for the raw TAESD decoder)`,
    others.length ? `; found only ${others.join(', ')}` : '',
    problems.length ? `; passed over ${problems.join('; ')}` : '',
  ].join('');
}

export interface TinyVaeManifest {
  kind: 'latent-studio-variant';
  source: string;
  sourceFingerprint: string;
  recipe: typeof TINY_VAE_VARIANT;
  recipeVersion: number;
  description: string;
  /** Each top-level folder of the variant: linked from the source, or the tiny decoder's copy. */
  components: Record<string, { from: 'source' | 'tiny-vae'; files: number; bytes: number }>;
  tinyVae: {
    name: string;
    dir: string;
    fingerprint: string;
    latentFamily: string;
    scalingFactor: number;
    outputRange: readonly [number, number];
  };
  /** How the source's files came over: hard links, or copies where links failed. */
  linked: number;
  copied: number;
  tool: { latentStudio: string; onnxruntimeNode: string };
  createdAt: string;
  buildMs: number;
}

const ManifestHead = VariantManifestHead.extend({
  tinyVae: z.looseObject({ dir: z.string(), fingerprint: z.string() }),
});

/** Why a stored tiny-vae variant cannot be used as it is (undefined: it is current). */
export function tinyVaeStaleReason(
  variantDir: string,
  modelDir: string,
  decoder: TinyVae,
): string | undefined {
  const r = readCurrentHead(
    variantDir,
    modelDir,
    { name: TINY_VAE_VARIANT, version: TINY_VAE_VERSION },
    ManifestHead,
  );
  if ('reason' in r) return r.reason;
  if (resolve(r.head.tinyVae.dir) !== resolve(decoder.dir))
    return `another tiny VAE decoder is chosen now (${decoder.name})`;
  if (r.head.tinyVae.fingerprint !== modelFingerprint(decoder.dir))
    return 'the tiny VAE decoder changed since';
  return undefined;
}

/** Tiny-vae builds in flight in this process, by folder. */
const building = new Map<string, Promise<string>>();

/**
 * The model's tiny-vae variant, `<home>/models/<model>--tiny-vae/`, built on first use and rebuilt
 * when the source's fingerprint, the chosen decoder or its files changed. Throws `not-found`
 * with what to put where when no decoder of the model's latent family exists.
 */
export async function ensureTinyVaeVariant(
  home: string,
  modelDir: string,
  onProgress: (p: { fraction: number; message: string; reason: string }) => void = () => {},
  family?: string,
): Promise<string> {
  const decoder = findTinyVae(home, modelLatentFamily(modelDir, family));
  if (!decoder) {
    throw new StudioError(
      tinyVaeRefusal(home, modelDir, family) ?? 'no tiny VAE decoder',
      'not-found',
    );
  }
  const dir = variantStorePath(home, modelDir, TINY_VAE_VARIANT);
  const pending = building.get(dir);
  if (pending) return pending;
  const reason = tinyVaeStaleReason(dir, modelDir, decoder);
  if (!reason) return dir;
  const build = Promise.resolve()
    .then(() => {
      onProgress({ fraction: 0, message: `linking ${modelDir} with ${decoder.name}`, reason });
      buildTinyVaeVariant(modelDir, decoder, dir);
      onProgress({ fraction: 1, message: `wrote ${dir}`, reason });
      return dir;
    })
    .finally(() => building.delete(dir));
  building.set(dir, build);
  return build;
}

/** Checks the decoder's graph: an input `latent_sample` with the decoder's latent channels. */
function checkDecoderGraph(decoder: TinyVae): void {
  const file = join(decoder.dir, 'vae_decoder', 'model.onnx');
  const model = OnnxModel.read(file);
  try {
    const input = model.graph.input.find((i) => i.name === 'latent_sample');
    if (!input) {
      throw new StudioError(
        `${file} has no input latent_sample (it has ${model.graph.input.map((i) => i.name).join(', ')}); the studio feeds vae_decoder by that name, as optimum's exports name it`,
        'bad-input',
      );
    }
    const t = input.type?.value;
    const dim = t?.case === 'tensorType' ? t.value.shape?.dim[1]?.value : undefined;
    if (dim?.case === 'dimValue' && Number(dim.value) !== decoder.latentChannels) {
      throw new StudioError(
        `${file} takes ${Number(dim.value)} latent channels, its config says ${decoder.latentChannels}`,
        'bad-input',
      );
    }
  } finally {
    model.close();
  }
}

/** Writes the variant into `<out>.partial` and renames it into place. */
function buildTinyVaeVariant(modelDir: string, decoder: TinyVae, out: string): TinyVaeManifest {
  const started = performance.now();
  const source = resolve(modelDir);
  if (!existsSync(join(source, 'unet', 'model.onnx')))
    throw new StudioError(`${source} is not a model folder (no unet/model.onnx)`, 'bad-input');
  checkDecoderGraph(decoder);
  // Beside the store folder, not inside it: the whole folder is replaced by one rename. (Variants
  // are only ever built under <home>/models here, never into a folder a person chose.)
  const tmp = `${resolve(out)}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const components: TinyVaeManifest['components'] = {};
  const counts = { linked: 0, copied: 0 };
  const tally = (top: string, from: 'source' | 'tiny-vae', bytes: number): void => {
    const c = (components[top] ??= { from, files: 0, bytes: 0 });
    c.files++;
    c.bytes += bytes;
  };
  try {
    const walk = (rel: string, mode: 'link' | 'copy', from: string, tag: 'source' | 'tiny-vae') => {
      for (const name of readdirSync(join(from, rel)).sort()) {
        const r = rel ? join(rel, name) : name;
        const at = join(from, r);
        const s = statSync(at);
        if (s.isDirectory()) {
          // The source's decoder is the one thing replaced.
          if (tag === 'source' && r === 'vae_decoder') continue;
          mkdirSync(join(tmp, r), { recursive: true });
          walk(r, mode, from, tag);
          continue;
        }
        if (tag === 'source' && r === MANIFEST) continue;
        if (mode === 'link') {
          try {
            linkSync(at, join(tmp, r));
            counts.linked++;
          } catch {
            copyFileSync(at, join(tmp, r));
            counts.copied++;
          }
        } else copyFileSync(at, join(tmp, r));
        tally(r.split(/[\\/]/)[0], tag, s.size);
      }
    };
    walk('', 'link', source, 'source');
    // The decoder is copied, not linked: a person may replace or edit their file in place, and
    // the variant keeps what it was built from (its fingerprint in the manifest says which).
    mkdirSync(join(tmp, 'vae_decoder'), { recursive: true });
    walk('vae_decoder', 'copy', decoder.dir, 'tiny-vae');
    const manifest: TinyVaeManifest = {
      kind: 'latent-studio-variant',
      source,
      sourceFingerprint: modelFingerprint(source),
      recipe: TINY_VAE_VARIANT,
      recipeVersion: TINY_VAE_VERSION,
      description: `the model's vae_decoder replaced by the tiny decoder ${decoder.name} (latent family ${decoder.latentFamily}, scaling factor ${decoder.scalingFactor}, output range [${decoder.outputRange.join(', ')}]); every other file linked from the source`,
      components,
      tinyVae: {
        name: decoder.name,
        dir: resolve(decoder.dir),
        fingerprint: modelFingerprint(decoder.dir),
        latentFamily: decoder.latentFamily,
        scalingFactor: decoder.scalingFactor,
        outputRange: decoder.outputRange,
      },
      ...counts,
      tool: { latentStudio: appVersion(), onnxruntimeNode: ortVersion() },
      createdAt: new Date().toISOString(),
      buildMs: Math.round(performance.now() - started),
    };
    writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    mkdirSync(resolve(out, '..'), { recursive: true });
    renameSync(tmp, out);
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
