import { StudioError } from '../../shared/errors';

/** One graph transform the optimizer can apply to a component. */
export type Transform =
  | 'attention'
  | 'int8-matmul'
  | 'int4-matmul'
  | 'int8-weights-dq'
  | 'int8-dynamic'
  | 'fp16'
  | 'fp16-storage'
  | 'ort-all'
  /** LoRA weights merged in (parameters: the build's LoRA files and scales). */
  | 'lora'
  /**
   * UNet feature caching (DeepCache): the UNet gains the deep feature at a skip connection as a
   * second output, and a shallow UNet that takes it as an input is written beside it
   * (`unet_shallow/`); feature-cache.ts.
   */
  | 'feature-cache';

export type ComponentRole = 'text_encoder' | 'unet' | 'vae_decoder' | 'vae_encoder';

/** Which role a component folder plays (SDXL's second text encoder is treated like the first). */
export function roleOf(component: string): ComponentRole | undefined {
  if (component === 'text_encoder' || component === 'text_encoder_2') return 'text_encoder';
  if (component === 'unet' || component === 'vae_decoder' || component === 'vae_encoder')
    return component;
  return undefined;
}

export interface OptimizeRecipe {
  name: string;
  /** Bumped when what the recipe writes changes, so cached variants are rebuilt. */
  version: number;
  description: string;
  /** Transforms per component role, applied in order; a role not listed is copied unchanged. */
  components: Partial<Record<ComponentRole, Transform[]>>;
  /** Where the result pays: GPU-only recipes are proposed only where a GPU provider works. */
  pays: 'cpu' | 'gpu' | 'any';
  /** The DeepCache branch (`cache_branch_id`) the feature-cache transform cuts at; 0 = shallowest. */
  cacheBranch?: number;
}

/**
 * The least a transformed component must agree with its source on the self-check's fixed inputs
 * (cosine similarity of all outputs). Set from what each transform measured on the fixtures and
 * tiny-shapes, with margin; a component below it is refused, never kept.
 */
export const MIN_COSINE: Record<Transform, number> = {
  attention: 0.9999,
  'ort-all': 0.9999,
  'fp16-storage': 0.9999,
  fp16: 0.995,
  'int8-matmul': 0.995,
  'int8-weights-dq': 0.99,
  'int8-dynamic': 0.98,
  'int4-matmul': 0.98,
  // A LoRA changes what the component computes on purpose: its check only asks for finite outputs.
  lora: -1,
  // The full UNet of the pair only gains an output: its out_sample must be the source's.
  'feature-cache': 0.9999,
};

export const OPTIMIZE_RECIPES: readonly OptimizeRecipe[] = [
  {
    name: 'graph-all',
    version: 1,
    description:
      "ONNX Runtime's full graph optimizations (fusions, constant folding, CPU layouts) baked into the files; runs on the kind of CPU that wrote it",
    components: {
      text_encoder: ['ort-all'],
      unet: ['ort-all'],
      vae_decoder: ['ort-all'],
      vae_encoder: ['ort-all'],
    },
    pays: 'cpu',
  },
  {
    name: 'attention',
    version: 1,
    description:
      "attention blocks fused into ONNX Runtime's MultiHeadAttention (flash-attention path on CPU, no seq x seq score matrix); same weights",
    components: { unet: ['attention'], text_encoder: ['attention'], vae_decoder: ['attention'] },
    pays: 'any',
  },
  {
    name: 'int8-matmul',
    version: 1,
    description:
      'MatMul/Gemm weights to 8-bit MatMulNBits (block 32, symmetric, int8 compute where the CPU has it) in the UNet and text encoders',
    components: { unet: ['int8-matmul'], text_encoder: ['int8-matmul'] },
    pays: 'any',
  },
  {
    name: 'int8',
    version: 1,
    description:
      'as int8-matmul, plus Conv weights and embedding tables stored int8 per channel with DequantizeLinear in front: about a quarter of the file and of resident weights',
    components: {
      unet: ['int8-matmul', 'int8-weights-dq'],
      text_encoder: ['int8-matmul', 'int8-weights-dq'],
    },
    pays: 'any',
  },
  {
    name: 'int8-dynamic',
    version: 1,
    description:
      "ONNX Runtime's classic dynamic quantization (DynamicQuantizeLinear + MatMulInteger) on MatMul weights, for comparison",
    components: { unet: ['int8-dynamic'], text_encoder: ['int8-dynamic'] },
    pays: 'cpu',
  },
  {
    name: 'int4',
    version: 1,
    description:
      'MatMul/Gemm weights to 4-bit MatMulNBits (block 32), Conv weights int8 per channel: the smallest file; quality is checked',
    components: {
      unet: ['int4-matmul', 'int8-weights-dq'],
      text_encoder: ['int4-matmul', 'int8-weights-dq'],
    },
    pays: 'any',
  },
  {
    name: 'fp16',
    version: 1,
    description:
      'UNet and text encoders compute in float16 (float32 inputs/outputs, normalization and Resize kept float32); the VAE decoder stays float32 (fp16 VAEs give NaN/black images). Pays on GPU providers; on CPU it is slower',
    components: { unet: ['fp16'], text_encoder: ['fp16'] },
    pays: 'gpu',
  },
  {
    name: 'fp16-storage',
    version: 1,
    description:
      'weights stored as float16 and cast back to float32 at load: half the download and disk, the same float32 compute',
    components: {
      unet: ['fp16-storage'],
      text_encoder: ['fp16-storage'],
      vae_decoder: ['fp16-storage'],
      vae_encoder: ['fp16-storage'],
    },
    pays: 'any',
  },
  {
    name: 'lora',
    version: 1,
    description:
      'LoRA files merged into the UNet / text encoder weights (W + scale·alpha/rank·up·down); built with the LoRA files and scales it names, cached per model fingerprint, LoRA hashes and scales',
    components: {},
    pays: 'any',
  },
  {
    name: 'feature-cache',
    version: 1,
    description:
      'UNet feature caching (DeepCache): the UNet also returns the deep feature at its shallowest skip connection, and a shallow UNet (stem, first down layer, last up layers) reuses it; the engine runs the full UNet every N-th step and the shallow one in between. Same weights',
    components: { unet: ['feature-cache'] },
    pays: 'any',
    cacheBranch: 0,
  },
  {
    name: 'mixed',
    version: 1,
    description:
      'per-component mixed precision: UNet attention fused + 8-bit MatMul weights, text encoders 8-bit MatMul weights, VAE decoder float32',
    components: { unet: ['attention', 'int8-matmul'], text_encoder: ['int8-matmul'] },
    pays: 'any',
  },
];

/**
 * A recipe by name. A name of several recipes joined by `+` (`attention+int8`, in any order) is
 * their composition (see composeOptimizeRecipes), named canonically.
 */
export function findOptimizeRecipe(name: string): OptimizeRecipe {
  if (name.includes('+')) return composeOptimizeRecipes(name.split('+'));
  const found = OPTIMIZE_RECIPES.find((r) => r.name === name);
  if (!found) {
    throw new StudioError(
      `unknown optimize recipe "${name}": use one of ${OPTIMIZE_RECIPES.map((r) => r.name).join(', ')}`,
      'bad-input',
    );
  }
  return found;
}

/** The tolerance of a chain of transforms: the loosest of its steps. */
export function chainTolerance(transforms: readonly Transform[]): number {
  return Math.min(1, ...transforms.map((t) => MIN_COSINE[t]));
}

/**
 * What a transform does to a component, which decides what composes with it:
 * - `graph`: rewrites nodes, leaves every weight as it is (attention fusion);
 * - `weights`: decides how weights are stored (quantization, float16): two of these on the same
 *   component would each rewrite what the other wrote (int8 and int4 both own the MatMul weights);
 * - `baked`: ONNX Runtime's own rewrite of the source file, which keeps nothing another transform
 *   wrote (graph-all);
 * - `lora`: merged with its files (ensureLoraVariant), never named as a part of a recipe.
 */
export const TRANSFORM_KIND: Record<Transform, 'graph' | 'weights' | 'baked' | 'lora'> = {
  attention: 'graph',
  'int8-matmul': 'weights',
  'int4-matmul': 'weights',
  'int8-weights-dq': 'weights',
  'int8-dynamic': 'weights',
  fp16: 'weights',
  'fp16-storage': 'weights',
  'ort-all': 'baked',
  lora: 'lora',
  'feature-cache': 'graph',
};

const ROLES: readonly ComponentRole[] = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'];

const isWeightsRecipe = (r: OptimizeRecipe): boolean =>
  Object.values(r.components).some((ts) => ts?.some((t) => TRANSFORM_KIND[t] === 'weights'));

/**
 * Why these single recipes cannot be applied to one model together, or undefined when they can.
 * Graph rewrites compose with anything; at most one recipe may decide how a component's weights are
 * stored; graph-all (written by ONNX Runtime from the source file) and lora compose with nothing.
 */
export function compositionRefusal(names: readonly string[]): string | undefined {
  const parts = [...new Set(names)];
  for (const n of parts) {
    if (n.includes('+')) return `${n} is itself a composition; name its parts`;
    if (!OPTIMIZE_RECIPES.some((r) => r.name === n)) return `unknown optimize recipe "${n}"`;
  }
  if (parts.length < 2) return undefined;
  const recipes = parts.map((n) => findOptimizeRecipe(n));
  for (const r of recipes) {
    const kinds = Object.values(r.components).flatMap((ts) => ts?.map((t) => TRANSFORM_KIND[t]));
    if (r.name === 'lora')
      return 'lora is merged with its LoRA files (a LoRA variant), not composed by name';
    if (kinds.includes('baked'))
      return `${r.name} cannot be combined with ${parts.filter((p) => p !== r.name).join(', ')}: ONNX Runtime writes it from the source file, so nothing another transform wrote would be kept`;
  }
  // The cached feature crosses the pair's boundary in float32; an fp16-compute UNet would need
  // casts on both sides that no measurement has justified yet.
  if (parts.includes('feature-cache') && parts.includes('fp16'))
    return 'feature-cache cannot be combined with fp16 compute: the cached feature is exchanged in float32; use it with attention or int8';
  for (const role of ROLES) {
    const owners = recipes
      .map((r) => ({
        r,
        ts: (r.components[role] ?? []).filter((t) => TRANSFORM_KIND[t] === 'weights'),
      }))
      .filter((o) => o.ts.length > 0);
    if (owners.length > 1) {
      const [a, b] = owners;
      return `${a.r.name} and ${b.r.name} cannot be combined: both decide how the ${role}'s weights are stored (${a.ts.join(', ')} / ${b.ts.join(', ')}); quantize the weights once`;
    }
  }
  return undefined;
}

/**
 * Several single recipes applied to one model as one recipe. The name is canonical, so any order
 * of the same parts is the same variant in the store: graph rewrites first, then the one recipe
 * that stores weights, each group by name (`attention+int8`). Per component the transforms run in
 * that order too: attention fusion matches the float MatMul -> Softmax -> MatMul pattern, which a
 * quantizer would have rewritten (the `mixed` recipe orders them the same way). The version is the
 * sum of the parts' versions: versions only go up, so any part's bump rebuilds the composition. A
 * refused combination throws a `bad-input` error with the reason.
 */
export function composeOptimizeRecipes(names: readonly string[]): OptimizeRecipe {
  const refusal = compositionRefusal(names);
  if (refusal) throw new StudioError(refusal, 'bad-input');
  const parts = [...new Set(names)]
    .map((n) => findOptimizeRecipe(n))
    .sort(
      (a, b) =>
        Number(isWeightsRecipe(a)) - Number(isWeightsRecipe(b)) || a.name.localeCompare(b.name),
    );
  if (parts.length === 1) return parts[0];
  const components: OptimizeRecipe['components'] = {};
  for (const role of ROLES) {
    const chain: Transform[] = [];
    for (const kind of ['graph', 'weights'] as const)
      for (const p of parts)
        for (const t of p.components[role] ?? [])
          if (TRANSFORM_KIND[t] === kind && !chain.includes(t)) chain.push(t);
    if (chain.length > 0) components[role] = chain;
  }
  const cacheBranch = parts.find((p) => p.cacheBranch !== undefined)?.cacheBranch;
  const pays = parts.some((p) => p.pays === 'gpu')
    ? 'gpu'
    : parts.some((p) => p.pays === 'cpu')
      ? 'cpu'
      : 'any';
  return {
    name: parts.map((p) => p.name).join('+'),
    version: parts.reduce((v, p) => v + p.version, 0),
    description: `composed, in this order: ${parts.map((p) => `${p.name} (${p.description})`).join('; then ')}`,
    components,
    pays,
    ...(cacheBranch !== undefined ? { cacheBranch } : {}),
  };
}
