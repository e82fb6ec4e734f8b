import { linspace } from './numeric';
import { leadingTimesteps, trailingTimesteps } from './spacing';

// A module-local alias: V8 inlines Math.fround through it (an imported binding is 10× slower).
const f32 = Math.fround;

/**
 * Timesteps of the Euler family (EulerDiscrete, EulerAncestralDiscrete): float32 values; with
 * `linspace` spacing they are fractional (np.linspace(0, T-1, N, dtype=float32) reversed).
 */
export function eulerTimesteps(
  spacing: string,
  T: number,
  N: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, N)
        .map(f32)
        .reverse();
    case 'leading':
      return leadingTimesteps(T, N, stepsOffset).map(f32);
    case 'trailing':
      return trailingTimesteps(T, N).map(f32);
    default:
      throw new Error(
        `timestep_spacing "${spacing}" is not supported (use leading, trailing or linspace)`,
      );
  }
}

/** init_noise_sigma of the Euler family: σ_max for linspace/trailing, else sqrt(σ_max² + 1). */
export function eulerInitNoiseSigma(sigmas: readonly number[], spacing: string): number {
  const max = Math.max(...sigmas);
  if (spacing === 'linspace' || spacing === 'trailing') return max;
  return f32(Math.sqrt(f32(f32(max * max) + 1)));
}

/** x / sqrt(σ² + 1), element-wise in float32 (the Euler family's scale_model_input). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const denom = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = sample[i] / denom;
  return out;
}
