import { describe, expect, it } from 'vitest';
import { arange, interpOnIndex, linspace, roundHalfEven } from './numeric';

describe('numpy helpers', () => {
  it('rounds half to even like np.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([
      0, 2, 2, -0, -2, 2, 3,
    ]);
  });
  it('linspace: endpoint, single point and endpoint=False', () => {
    expect(linspace(0, 999, 4)).toEqual([0, 333, 666, 999]);
    expect(linspace(0, 999, 1)).toEqual([0]); // the Euler 1-step quirk: timesteps [0]
    expect(linspace(0, 50, 4, false)).toEqual([0, 12.5, 25, 37.5]);
  });
  it('arange with a float step', () => {
    expect(arange(1000, 0, -250)).toEqual([1000, 750, 500, 250]);
    expect(arange(1000, 0, -1000 / 3).map(roundHalfEven)).toEqual([1000, 667, 333]);
  });
  it('interp on the index grid clamps at the ends', () => {
    const fp = [0, 10, 20];
    expect([-1, 0, 0.25, 1.5, 2, 3].map((x) => interpOnIndex(x, fp))).toEqual([
      0, 0, 2.5, 15, 20, 20,
    ]);
  });
});
