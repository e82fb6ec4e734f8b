/**
 * The few numpy behaviours the diffusers schedulers depend on, reproduced exactly so that
 * timestep tables match bit for bit (a different rounding rule moves a timestep by one).
 */

export const f32 = Math.fround;

/** numpy.round / np.around: round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; for an exact tie pick the even neighbour.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** numpy.linspace(start, stop, num, endpoint) in float64: start + i * step, last = stop. */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const delta = stop - start;
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = div > 0 ? start + i * (delta / div) : start + i * delta;
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/**
 * numpy.arange(start, stop, step) for floats: length ceil((stop - start) / step), values
 * start + i * delta where delta = (start + step) - start, as numpy's fill does.
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = start + i * delta;
  return out;
}

/** numpy.interp(x, [0, 1, ..., n-1], fp) for x inside [0, n-1] (clamped outside). */
export function interpOnIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0];
  if (x >= last) return fp[last];
  const j = Math.floor(x);
  const slope = (fp[j + 1] - fp[j]) / 1;
  // numpy: slope * (x - xp[j]) + fp[j]
  return slope * (x - j) + fp[j];
}
