import { f32 } from './numeric';

/**
 * Noise schedules (betas) and alphas_cumprod, computed the way torch computes them in float32
 * inside the diffusers schedulers, so that tables match the reference bit for bit.
 */

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/**
 * torch.linspace(start, end, n, dtype=float32) on CPU, reproduced exactly.
 * torch's kernel computes `start + step*i` for the first half and `end - step*(n-1-i)` for the
 * second, vectorized 8 floats at a time (AVX2) as `base + k*step`, two vectors per loop and the
 * tail element-wise, and the compiler fuses each multiply-add (FMA, one rounding). The float32
 * results of a naive formula differ from torch's in the last bit for ~30% of entries; this
 * reproduces the reference `alphas_cumprod` exactly (see betas.test.ts).
 */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  const s = f32(start);
  const e = f32(end);
  if (n === 1) {
    out[0] = s;
    return out;
  }
  const step = f32((e - s) / (n - 1));
  const halfway = Math.floor(n / 2);
  // fma(a, b, c) in float32: the product of two floats is exact in float64.
  const fma = (a: number, b: number, c: number): number => f32(a * b + c);
  const scalarAt = (i: number): number =>
    i < halfway ? fma(step, i, s) : fma(-step, n - 1 - i, e);
  const width = 8;
  let i = 0;
  for (; i + 2 * width <= n; i += width) {
    const base = scalarAt(i);
    for (let k = 0; k < width; k++) out[i + k] = fma(k, step, base);
  }
  for (; i < n; i++) out[i] = scalarAt(i);
  return out;
}

/** diffusers betas_for_alpha_bar with the "cosine" (Glide, squaredcos_cap_v2) transform. */
export function cosineBetas(n: number, maxBeta = 0.999): Float32Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
  }
  return out;
}

export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  trained_betas?: readonly number[] | null;
}

/** The betas a diffusers scheduler builds in __init__ (before any zero-SNR rescale). */
export function makeBetas(config: BetaConfig): Float32Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas) return Float32Array.from(config.trained_betas);
  switch (config.beta_schedule) {
    case 'linear':
      return torchLinspaceF32(config.beta_start, config.beta_end, n);
    case 'scaled_linear': {
      const roots = torchLinspaceF32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new Error(
        `beta_schedule "${config.beta_schedule}" is not supported (use linear, scaled_linear or squaredcos_cap_v2)`,
      );
  }
}

/** torch.cumprod(1 - betas) in float32: torch accumulates in double and rounds each output. */
export function alphasCumprod(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/**
 * diffusers rescale_zero_terminal_snr (Lin et al. 2023, Algorithm 1): shift and scale
 * sqrt(alphas_cumprod) so the last timestep has zero SNR, then recover betas. float32 like torch.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtBar = alphasCumprod(betas).map((a) => f32(Math.sqrt(a)));
  const first = sqrtBar[0];
  const last = sqrtBar[n - 1];
  const scale = f32(first / f32(first - last));
  const bar = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const shifted = f32(f32(sqrtBar[i] - last) * scale);
    bar[i] = f32(shifted * shifted);
  }
  const out = new Float32Array(n);
  out[0] = f32(1 - bar[0]);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(bar[i] / bar[i - 1]));
  return out;
}
