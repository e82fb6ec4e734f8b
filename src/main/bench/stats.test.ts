import { describe, expect, it } from 'vitest';
import { pairedSpeedup, t95 } from './stats';

describe('pairedSpeedup', () => {
  it('is baseline mean over candidate mean, with an interval from the repeats', () => {
    const e = pairedSpeedup([
      { base: [200, 210, 190], candidate: [100, 105, 95] },
      { base: [400, 410, 390], candidate: [200, 204, 196] },
    ]);
    expect(e.speedup).toBeCloseTo(2, 6);
    expect(e.method).toBe('repeats');
    const [lo, hi] = e.ci ?? [0, 0];
    expect(lo).toBeLessThan(2);
    expect(hi).toBeGreaterThan(2);
    expect(lo).toBeGreaterThan(1.8);
    expect(hi).toBeLessThan(2.2);
  });

  it('widens with noise until the interval includes 1', () => {
    const quiet = pairedSpeedup([{ base: [110, 111, 109], candidate: [100, 101, 99] }]);
    const noisy = pairedSpeedup([{ base: [160, 60, 110], candidate: [150, 50, 100] }]);
    expect(quiet.ci?.[0]).toBeGreaterThan(1);
    expect(noisy.ci?.[0]).toBeLessThan(1);
    expect(noisy.speedup).toBeCloseTo(1.1, 6);
  });

  it('uses the spread of per-case ratios with one run per case, and gives no interval for one run', () => {
    const cases = pairedSpeedup([
      { base: [200], candidate: [100] },
      { base: [300], candidate: [140] },
      { base: [250], candidate: [130] },
    ]);
    expect(cases.method).toBe('cases');
    expect(cases.ci?.[0]).toBeLessThan(cases.speedup);
    const one = pairedSpeedup([{ base: [200], candidate: [100] }]);
    expect(one).toMatchObject({ speedup: 2, ci: null, method: 'none' });
  });

  it('reads Student t quantiles from the table', () => {
    expect(t95(1)).toBeCloseTo(12.706, 3);
    expect(t95(10)).toBeCloseTo(2.228, 3);
    expect(t95(1000)).toBeCloseTo(1.96, 2);
    expect(t95(0)).toBe(Infinity);
  });
});
