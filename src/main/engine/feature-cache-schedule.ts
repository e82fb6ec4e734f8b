import type { FeatureCache, GuidanceInterval } from '../../shared/schemas';

/**
 * The steps on which the full UNet runs under feature caching; every other step runs the shallow
 * UNet on the deep feature of the last full step. Step 0 is always full (nothing is cached yet).
 * - `uniform`: every `interval`-th step (DeepCache's default, diffusers' `cache_interval`);
 * - `center`: as many full steps, spaced by a power law around a centre at 30% of the trajectory,
 *   so they are denser where the picture's layout is decided (the shape of DeepCache's non-uniform
 *   schedule; its centre and power are its defaults' proportions, 15 of 50 steps, power 1.4).
 */
export function fullSteps(steps: number, cache: FeatureCache | undefined): Set<number> {
  const interval = cache?.interval ?? 1;
  if (interval <= 1 || steps <= 1) return new Set(Array.from({ length: steps }, (_, i) => i));
  const count = Math.ceil(steps / interval);
  if ((cache?.schedule ?? 'uniform') === 'uniform') {
    const out = new Set<number>();
    for (let i = 0; i < steps; i += interval) out.add(i);
    return out;
  }
  const center = 0.3 * (steps - 1);
  const power = 1.4;
  const lo = -(center ** (1 / power));
  const hi = (steps - 1 - center) ** (1 / power);
  const out = new Set<number>([0]);
  // Evenly spaced in u, then x = centre + sign(u)|u|^power: gaps grow away from the centre.
  for (let k = 0; out.size < count && k <= 4 * count; k++) {
    const spread = count + k;
    out.clear();
    out.add(0);
    for (let j = 0; j < spread && out.size < count; j++) {
      const u = lo + ((hi - lo) * (j + 0.5)) / spread;
      const x = Math.round(center + Math.sign(u) * Math.abs(u) ** power);
      out.add(Math.min(steps - 1, Math.max(0, x)));
    }
  }
  return out;
}

/** Whether step i of `steps` runs classifier-free guidance (both rows) under the interval. */
export function guidedStep(
  i: number,
  steps: number,
  interval: GuidanceInterval | undefined,
): boolean {
  if (!interval) return true;
  const at = i / steps;
  return at >= interval.start && at < interval.end;
}
