import { f32, interpOnIndex, linspace } from './numeric';

/**
 * Sigma (noise level) tables of the k-diffusion style schedulers (Euler, Euler a, DPM++):
 * σ(t) = sqrt((1 − ᾱ_t) / ᾱ_t) for every training timestep, interpolated at the inference
 * timesteps, or re-spaced (Karras, exponential) and mapped back to fractional timesteps.
 */

/** ((1 - ᾱ) / ᾱ) ** 0.5 per training timestep, in float32 as torch computes it. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  const out = new Float32Array(alphasCumprod.length);
  for (let i = 0; i < out.length; i++) {
    const a = alphasCumprod[i];
    out[i] = Math.sqrt(f32(f32(1 - a) / a));
  }
  return out;
}

/** np.interp(timesteps, arange(T), sigmas): σ at (possibly fractional) timesteps, in float64. */
export function sigmasAtTimesteps(timesteps: readonly number[], table: Float32Array): number[] {
  return timesteps.map((t) => interpOnIndex(t, table));
}

/** Karras et al. (2022) ρ=7 ramp from sigmaMax down to sigmaMin (diffusers _convert_to_karras). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7;
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return linspace(0, 1, n).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
}

/** Log-uniform sigmas from sigmaMax to sigmaMin (diffusers _convert_to_exponential). */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp);
}

/** np.log of a float32 table, kept in float32 like numpy does for a float32 array. */
export function logSigmas(table: Float32Array): Float32Array {
  return table.map((s) => Math.log(s));
}

/**
 * diffusers _sigma_to_t: the fractional timestep whose log-sigma matches, by linear interpolation
 * between the two neighbouring training timesteps (table ascending in t).
 */
export function sigmaToT(sigma: number, logTable: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // low = last index whose log-sigma is <= logSigma (cumsum(dists >= 0).argmax), clipped.
  let low = 0;
  for (let i = 0; i < logTable.length; i++) if (logSigma - logTable[i] >= 0) low = i;
  low = Math.min(low, logTable.length - 2);
  const high = low + 1;
  const lo = logTable[low];
  const hi = logTable[high];
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * high;
}
