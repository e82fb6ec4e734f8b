import { arange, linspace, roundHalfEven } from './numeric';

/**
 * Inference timestep spacings ("Common Diffusion Noise Schedules and Sample Steps are Flawed",
 * Lin et al. 2023, Table 2), as the diffusers schedulers compute them. All return timesteps in
 * denoising order (descending).
 */

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** leading: (i · ⌊T/N⌋ for i < N) reversed, + steps_offset. N=50, T=1000, offset 1 → 981 … 1. */
export function leadingTimesteps(T: number, N: number, stepsOffset: number): number[] {
  const ratio = Math.floor(T / N);
  const out: number[] = [];
  for (let i = N - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
  return out;
}

/** trailing: round(arange(T, 0, −T/N)) − 1. N=4 → 999, 749, 499, 249 (SD-Turbo). */
export function trailingTimesteps(T: number, N: number): number[] {
  return arange(T, 0, -T / N).map((t) => roundHalfEven(t) - 1);
}

/** linspace (integer schedulers): round(linspace(0, T−1, N)) reversed. */
export function linspaceTimesteps(T: number, N: number): number[] {
  return linspace(0, T - 1, N)
    .map(roundHalfEven)
    .reverse();
}

/** The integer spacing of DDIM / DDPM / Euler-style leading/trailing by name. */
export function spacedTimesteps(
  spacing: string,
  T: number,
  N: number,
  stepsOffset: number,
): number[] {
  switch (spacing) {
    case 'leading':
      return leadingTimesteps(T, N, stepsOffset);
    case 'trailing':
      return trailingTimesteps(T, N);
    case 'linspace':
      return linspaceTimesteps(T, N);
    default:
      throw new Error(
        `timestep_spacing "${spacing}" is not supported (use leading, trailing or linspace)`,
      );
  }
}
