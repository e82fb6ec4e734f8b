import { z } from 'zod';
import { PSNR_ACCEPTABLE_DB, SSIM_ACCEPTABLE, SSIM_OVER_OPTIMIZED } from './quality';

/**
 * The classic optimization checklist as rules over one recipe's measured figures. Every finding
 * names the figure that triggered it and the threshold it crossed, so the UI and the stored run
 * can show "why" next to "what to try".
 */

/** Classic checklist: more than 10 s per image means the model's arithmetic dominates. */
export const COMPUTE_BOUND_MS_PER_IMAGE = 10_000;
/** Classic checklist: peak memory above 2x the weights means activations, not weights, dominate. */
export const ACTIVATION_BOUND_MEMORY_RATIO = 2;
/** Ours: the activation rule also needs this much memory beyond 2x the weights, so that a tiny model
 * (whose footprint is the runtime itself) is not called activation-bound. */
export const ACTIVATION_BOUND_MIN_EXCESS_MB = 256;
/** Classic checklist: CPU busier than this while a GPU provider runs means the host is the
 * bottleneck (tokenizing, scheduler math, tensor copies, PNG encoding). */
export const HOST_BOUND_CPU_PERCENT = 50;
/** Ours: the VAE decoder is one pass against the UNet's many; above this share of stage time it is
 * worth optimizing on its own (typical at high resolution and with few-step schedulers). */
export const VAE_HEAVY_SHARE = 0.4;
/** Ours: the text encoder runs once per prompt; above this share, caching embeddings pays. */
export const TEXT_ENCODER_HEAVY_SHARE = 0.2;
/** Ours: ONNX Runtime's CPU provider normally keeps every core busy; an engine process using less
 * of the physical cores than this during a CPU run suggests too few intra-op threads (or a
 * throttled/shared machine). */
export const CPU_UNDERUSED_PERCENT = 50;
/** Ours: peak process memory above this share of physical RAM risks swapping or an OOM kill. */
export const NEAR_RAM_LIMIT_SHARE = 0.8;

export const FINDING_IDS = [
  'compute-bound',
  'activation-bound',
  'host-bound',
  'over-optimized',
  'quality-degraded',
  'vae-heavy',
  'text-encoder-heavy',
  'cpu-underused',
  'near-ram-limit',
  'machine-loaded',
] as const;
export type FindingId = (typeof FINDING_IDS)[number];

/** A finding as stored and sent to the UI; the store validates rows read back with it. */
export const FindingSchema = z.object({
  id: z.enum(FINDING_IDS),
  severity: z.enum(['info', 'warning']),
  title: z.string(),
  detail: z.string(),
  evidence: z.object({ metric: z.string(), value: z.number(), threshold: z.number() }),
  suggestions: z.array(z.string()),
});
export type Finding = z.infer<typeof FindingSchema>;

export interface DiagnosisInput {
  /** Mean end-to-end latency per image (tokenize to decoded pixels), ms. */
  latencyMsPerImage: number;
  /** Peak resident memory of the engine process during the measurement, MB. */
  peakRssMb: number;
  /** Size of the model's weights on disk, MB. */
  modelSizeMb: number;
  /**
   * Engine process CPU during the measurement: its CPU time over its busy time, as % of the
   * physical cores (0-100). Not system load: other programs do not count.
   */
  cpuPercentDuringRun: number;
  /** Execution provider name as the engine uses it: 'cpu', 'cuda', 'dml', 'webgpu', 'coreml'... */
  provider: string;
  /** Quality against the baseline; absent for the baseline itself. */
  ssim?: number;
  psnr?: number;
  /** Mean ms per image spent in each stage. */
  stages?: { textEncoder: number; unet: number; vae: number };
  /** Physical RAM of the machine, MB; enables the near-RAM-limit rule. */
  ramTotalMb?: number;
  /**
   * The 1-minute load average before and after the recipe's runs and the logical cores; enables
   * the machine-loaded rule.
   */
  loadAvg?: { before: number; after: number; cores: number };
}

/** Providers that run the model off the CPU (GPU, NPU or Apple's Neural Engine). */
export function isAcceleratorProvider(provider: string): boolean {
  return provider !== 'cpu' && provider !== 'wasm';
}

const fmt = (v: number, digits = 0): string => v.toFixed(digits);
const pct = (share: number): string => `${Math.round(share * 100)}%`;

/** Classic: more than 10 s per image. */
function computeBound(input: DiagnosisInput, gpu: boolean): Finding | null {
  if (!(input.latencyMsPerImage > COMPUTE_BOUND_MS_PER_IMAGE)) return null;
  return {
    id: 'compute-bound',
    severity: 'warning',
    title: 'Compute-bound: each image takes more than 10 s',
    detail: `${fmt(input.latencyMsPerImage / 1000, 1)} s per image on ${input.provider}. The denoising arithmetic dominates; do less of it or do it on faster hardware.`,
    evidence: {
      metric: 'latencyMsPerImage',
      value: input.latencyMsPerImage,
      threshold: COMPUTE_BOUND_MS_PER_IMAGE,
    },
    suggestions: [
      'Use a few-step scheduler (LCM or a Turbo model at 1-4 steps, DPM++ 2M at 20-25 steps instead of 50)',
      'Quantize the UNet (int8, or int4 MatMulNBits for attention and feed-forward layers)',
      ...(gpu ? [] : ['Run on a GPU execution provider (CUDA, DirectML, WebGPU or CoreML)']),
    ],
  };
}

/** Classic: peak memory above twice the weights. */
function activationBound(input: DiagnosisInput): Finding | null {
  if (!(
    input.modelSizeMb > 0 &&
    input.peakRssMb > ACTIVATION_BOUND_MEMORY_RATIO * input.modelSizeMb &&
    input.peakRssMb - ACTIVATION_BOUND_MEMORY_RATIO * input.modelSizeMb >=
      ACTIVATION_BOUND_MIN_EXCESS_MB
  ))
    return null;
  const ratio = input.peakRssMb / input.modelSizeMb;
  return {
    id: 'activation-bound',
    severity: 'warning',
    title: 'Activation-bound: peak memory is more than twice the model size',
    detail: `Peak memory ${fmt(input.peakRssMb)} MB is ${fmt(ratio, 1)}x the ${fmt(input.modelSizeMb)} MB of weights: intermediate tensors, not weights, set the memory footprint.`,
    evidence: {
      metric: 'peakRssMb / modelSizeMb',
      value: ratio,
      threshold: ACTIVATION_BOUND_MEMORY_RATIO,
    },
    suggestions: [
      'Use sequential residency (load the text encoder, UNet and VAE one at a time)',
      'Turn on VAE tiling or slicing',
      'Use a smaller batch',
    ],
  };
}

/** Ours: close to the machine's RAM. */
function nearRamLimit(input: DiagnosisInput): Finding | null {
  if (!(
    input.ramTotalMb !== undefined &&
    input.ramTotalMb > 0 &&
    input.peakRssMb > NEAR_RAM_LIMIT_SHARE * input.ramTotalMb
  ))
    return null;
  const share = input.peakRssMb / input.ramTotalMb;
  return {
    id: 'near-ram-limit',
    severity: 'warning',
    title: 'Close to the memory limit',
    detail: `Peak memory ${fmt(input.peakRssMb)} MB is ${pct(share)} of this machine's ${fmt(input.ramTotalMb)} MB; larger sizes or batches are likely to swap or be killed.`,
    evidence: { metric: 'peakRssMb / ramTotalMb', value: share, threshold: NEAR_RAM_LIMIT_SHARE },
    suggestions: [
      'Use sequential residency so only one component is loaded at a time',
      'Use a quantized (int8/int4) or fp16 variant to shrink the weights',
      'Turn off the CPU memory arena to return memory between stages',
    ],
  };
}

/** Classic: the CPU busy while a GPU provider runs. */
function hostBound(input: DiagnosisInput, gpu: boolean): Finding | null {
  if (!(gpu && input.cpuPercentDuringRun > HOST_BOUND_CPU_PERCENT)) return null;
  return {
    id: 'host-bound',
    severity: 'warning',
    title: 'Pre/post-processing-bound: the CPU is busy while the GPU runs',
    detail: `The engine process kept ${fmt(input.cpuPercentDuringRun)}% of the physical cores busy while ${input.provider} ran the model: host work (tokenizing, scheduler math, copies between host and device, PNG encoding) is holding the GPU back.`,
    evidence: {
      metric: 'cpuPercentDuringRun',
      value: input.cpuPercentDuringRun,
      threshold: HOST_BOUND_CPU_PERCENT,
    },
    suggestions: [
      'Keep tensors on the device between steps (IO binding / GPU output location)',
      'Batch several images per UNet call',
      'Check whether some nodes fell back to the CPU provider (see the profiler)',
    ],
  };
}

/** Ours: a CPU run that leaves cores idle. */
function cpuUnderused(input: DiagnosisInput, gpu: boolean): Finding | null {
  if (!(!gpu && input.cpuPercentDuringRun < CPU_UNDERUSED_PERCENT)) return null;
  return {
    id: 'cpu-underused',
    severity: 'info',
    title: 'The CPU provider is not using the whole CPU',
    detail: `The engine process used only ${fmt(input.cpuPercentDuringRun)}% of the physical cores during a CPU run; ONNX Runtime usually keeps every core busy.`,
    evidence: {
      metric: 'cpuPercentDuringRun',
      value: input.cpuPercentDuringRun,
      threshold: CPU_UNDERUSED_PERCENT,
    },
    suggestions: [
      'Set intra-op threads to the number of physical cores',
      'Check that no other program limits or shares the CPU during benchmarks',
    ],
  };
}

/** Quality against the baseline: over-optimized (classic) or below the acceptable thresholds. */
function qualityFinding(input: DiagnosisInput): Finding | null {
  if (input.ssim !== undefined) {
    if (Number.isNaN(input.ssim) || input.ssim < SSIM_OVER_OPTIMIZED) {
      return {
        id: 'over-optimized',
        severity: 'warning',
        title: 'Over-optimized: the images no longer match the baseline',
        detail: `SSIM ${fmt(input.ssim, 3)} against the baseline is below ${SSIM_OVER_OPTIMIZED}: the optimization changed the pictures, not just their fine detail.`,
        evidence: { metric: 'ssim', value: input.ssim, threshold: SSIM_OVER_OPTIMIZED },
        suggestions: [
          'Use more steps or a higher-order scheduler',
          'Keep sensitive parts in higher precision (VAE decoder and attention in fp32/fp16, int8 only for the UNet)',
          'Use int8 instead of int4, or a larger quantization block size',
        ],
      };
    } else {
      const psnrLow = input.psnr !== undefined && !(input.psnr > PSNR_ACCEPTABLE_DB);
      if (!(input.ssim > SSIM_ACCEPTABLE) || psnrLow) {
        const bySsim = !(input.ssim > SSIM_ACCEPTABLE);
        return {
          id: 'quality-degraded',
          severity: 'info',
          title: 'Quality below the acceptable threshold',
          detail: bySsim
            ? `SSIM ${fmt(input.ssim, 3)} is not above ${SSIM_ACCEPTABLE}: visibly different from the baseline, though the composition holds.`
            : `PSNR ${fmt(input.psnr ?? Number.NaN, 1)} dB is not above ${PSNR_ACCEPTABLE_DB} dB: the structure matches but pixel values drift from the baseline.`,
          evidence: bySsim
            ? { metric: 'ssim', value: input.ssim, threshold: SSIM_ACCEPTABLE }
            : { metric: 'psnr', value: input.psnr ?? Number.NaN, threshold: PSNR_ACCEPTABLE_DB },
          suggestions: [
            'Compare the difference heatmap to see where the images differ',
            'Try the same recipe with a few more steps or higher precision for the VAE',
          ],
        };
      }
    }
  }

  return null;
}

/** Ours: the VAE decoder takes a large share of stage time. */
function vaeHeavy(input: DiagnosisInput, gpu: boolean): Finding | null {
  const stages = input.stages;
  const stageTotal = stages ? stages.textEncoder + stages.unet + stages.vae : 0;
  if (!stages || stageTotal <= 0) return null;
  const vaeShare = stages.vae / stageTotal;
  if (vaeShare > VAE_HEAVY_SHARE) {
    return {
      id: 'vae-heavy',
      severity: 'info',
      title: 'The VAE decoder takes a large share of the time',
      detail: `VAE decoding is ${pct(vaeShare)} of stage time (${fmt(stages.vae)} ms of ${fmt(stageTotal)} ms per image); with few UNet steps or large images the single decode pass becomes the bottleneck.`,
      evidence: {
        metric: 'stages.vae / stages total',
        value: vaeShare,
        threshold: VAE_HEAVY_SHARE,
      },
      suggestions: [
        'Turn on VAE tiling (less memory traffic at large sizes)',
        gpu
          ? 'Use an fp16 VAE decoder on the GPU (keep SDXL decoders in fp32: fp16 gives NaN/black images)'
          : 'Run the VAE decoder on a GPU provider if one is available',
        'Use a distilled tiny VAE decoder if the quality allows',
      ],
    };
  }
  return null;
}

/** Ours: the text encoder takes a large share of stage time. */
function textEncoderHeavy(input: DiagnosisInput): Finding | null {
  const stages = input.stages;
  const stageTotal = stages ? stages.textEncoder + stages.unet + stages.vae : 0;
  if (!stages || stageTotal <= 0) return null;
  const textShare = stages.textEncoder / stageTotal;
  if (textShare > TEXT_ENCODER_HEAVY_SHARE) {
    return {
      id: 'text-encoder-heavy',
      severity: 'info',
      title: 'The text encoder takes a large share of the time',
      detail: `Text encoding is ${pct(textShare)} of stage time (${fmt(stages.textEncoder)} ms of ${fmt(stageTotal)} ms per image); it runs once per prompt, so its cost shows with few steps.`,
      evidence: {
        metric: 'stages.textEncoder / stages total',
        value: textShare,
        threshold: TEXT_ENCODER_HEAVY_SHARE,
      },
      suggestions: [
        'Cache prompt embeddings (the negative prompt is usually the same every time)',
        'Quantize the text encoder (int8 dynamic quantization suits its MatMuls)',
      ],
    };
  }
  return null;
}

/**
 * Ours: the bench's own engine keeps about one runnable thread per core busy, so a 1-minute load
 * average over 1.5 x the logical cores (before or after a recipe's runs) means other programs
 * kept at least half the cores busy too: threads queued for a CPU while it was measured, and its
 * timings are too noisy to decide on. At the cores alone, a 2-core machine running the bench
 * by itself would be called busy every time.
 */
export const LOADED_FACTOR = 1.5;

function machineLoaded(input: DiagnosisInput): Finding | null {
  const load = input.loadAvg;
  if (!load || !(load.cores > 0)) return null;
  const peak = Math.max(load.before, load.after);
  const threshold = LOADED_FACTOR * load.cores;
  if (!(peak > threshold)) return null;
  return {
    id: 'machine-loaded',
    severity: 'warning',
    title: 'The machine was busy while this was measured',
    detail: `The 1-minute load average was ${fmt(load.before, 1)} before and ${fmt(load.after, 1)} after the runs, on ${load.cores} cores: besides the benchmark's own engine, other programs kept the cores busy, so the timings are too noisy to decide on.`,
    evidence: { metric: 'loadAvg1m', value: peak, threshold },
    suggestions: [
      'Close other programs (browsers, builds, other benchmarks) and run the benchmark again',
      'Keep the interleaved baseline on: it pairs each run with a baseline run made beside it',
    ],
  };
}

/** The checklist, one rule per finding (most telling first). */
const RULES: ((input: DiagnosisInput, gpu: boolean) => Finding | null)[] = [
  machineLoaded,
  computeBound,
  activationBound,
  nearRamLimit,
  hostBound,
  cpuUnderused,
  qualityFinding,
  vaeHeavy,
  textEncoderHeavy,
];

/** Findings for one recipe's figures, most important first (warnings before info). */
export function diagnose(input: DiagnosisInput): Finding[] {
  const gpu = isAcceleratorProvider(input.provider);
  return RULES.map((rule) => rule(input, gpu))
    .filter((f): f is Finding => f !== null)
    .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'warning' ? -1 : 1));
}
