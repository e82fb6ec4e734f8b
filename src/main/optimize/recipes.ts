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
  | 'lora';

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
    name: 'mixed',
    version: 1,
    description:
      'per-component mixed precision: UNet attention fused + 8-bit MatMul weights, text encoders 8-bit MatMul weights, VAE decoder float32',
    components: { unet: ['attention', 'int8-matmul'], text_encoder: ['int8-matmul'] },
    pays: 'any',
  },
];

export function findOptimizeRecipe(name: string): OptimizeRecipe {
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
