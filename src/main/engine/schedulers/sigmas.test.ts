import { describe, expect, it } from 'vitest';
import { alphasCumprod, makeBetas } from './betas';
import { karrasSigmas, logSigmas, sigmaToT, trainingSigmas } from './sigmas';

const table = trainingSigmas(
  alphasCumprod(
    makeBetas({
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
    }),
  ),
);

describe('sigma tables', () => {
  it('SD 1.x σ(0) ≈ 0.02917 and σ(999) ≈ 14.6146', () => {
    expect(table[0]).toBeCloseTo(0.029168, 5);
    expect(table[999]).toBeCloseTo(14.614645, 5);
  });
  it('Karras ramp: ends at σ_max and σ_min, uniform in σ^(1/7)', () => {
    const s = karrasSigmas(0.0292, 14.6146, 5);
    expect(s[0]).toBeCloseTo(14.6146, 10);
    expect(s[4]).toBeCloseTo(0.0292, 10);
    const roots = s.map((x) => x ** (1 / 7));
    expect(roots[1] - roots[0]).toBeCloseTo(roots[3] - roots[2], 10);
  });
  it('sigmaToT inverts the table at integer timesteps and interpolates between', () => {
    const logs = logSigmas(table);
    for (const t of [0, 1, 250, 999]) expect(sigmaToT(table[t], logs)).toBeCloseTo(t, 3);
    const mid = Math.exp((Math.log(table[500]) + Math.log(table[501])) / 2);
    expect(sigmaToT(mid, logs)).toBeCloseTo(500.5, 2);
  });
});
