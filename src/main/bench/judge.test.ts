import { describe, expect, it } from 'vitest';
import {
  fitVerdict,
  MIN_SPEEDUP,
  paretoFront,
  pickWinner,
  speedVerdict,
  verdictFor,
  type JudgedRecipe,
} from './judge';

const r = (
  name: string,
  speedup: number | null,
  ci: [number, number] | null,
  ssim: number | null,
  opts: Partial<JudgedRecipe> = {},
): JudgedRecipe => {
  const verdict =
    name === 'baseline'
      ? 'baseline'
      : verdictFor({ isBaseline: false, speedup, ci, ssim, psnr: ssim === null ? null : 30 });
  return {
    name,
    status: 'ok',
    verdict,
    latencyMean: speedup ? 1000 / speedup : null,
    speedup,
    speedupCi: ci,
    peakRssMb: 100,
    ssim,
    psnr: ssim === null ? null : 30,
    ...opts,
  };
};
const base = r('baseline', 1, null, null);

describe('speedVerdict', () => {
  it('is faster only when the interval lies above 1 and the gain reaches the minimum', () => {
    expect(speedVerdict(1.5, [1.2, 1.8])).toBe('faster');
    expect(speedVerdict(1.5, [0.99, 2])).toBe('no-gain');
    expect(speedVerdict(MIN_SPEEDUP - 0.01, [1.01, 1.06])).toBe('no-gain');
    expect(speedVerdict(MIN_SPEEDUP, [1.01, 1.1])).toBe('faster');
    expect(speedVerdict(0.8, [0.7, 0.9])).toBe('slower');
    expect(speedVerdict(0.8, [0.7, 1.01])).toBe('no-gain');
    // Without an interval nothing is claimed, however large the point estimate.
    expect(speedVerdict(3, null)).toBe('no-gain');
  });

  it('judges quality before speed', () => {
    expect(verdictFor({ isBaseline: false, speedup: 3, ci: [2, 4], ssim: 0.7, psnr: 30 })).toBe(
      'over-optimized',
    );
    expect(verdictFor({ isBaseline: true, speedup: 1, ci: null, ssim: null, psnr: null })).toBe(
      'baseline',
    );
  });
});

describe('pickWinner', () => {
  const fastLow = r('fast-low', 3, [2.8, 3.2], 0.86);
  const midMid = r('mid', 2.5, [2.3, 2.7], 0.95);
  const slowHigh = r('slow-high', 1.3, [1.2, 1.4], 0.99);
  const all = [base, fastLow, midMid, slowHigh];

  it('lets the priority decide among the passing candidates', () => {
    expect(pickWinner(all, 'baseline', 'speed').winner).toBe('fast-low');
    expect(pickWinner(all, 'baseline', 'quality').winner).toBe('slow-high');
    // The knee: most of the speed for little of the quality.
    expect(pickWinner(all, 'baseline', 'balance').winner).toBe('mid');
  });

  it('never recommends a candidate whose interval includes 1, however fast its mean', () => {
    const noisy = r('noisy', 1.23, [0.9, 1.6], 0.99);
    expect(noisy.verdict).toBe('no-gain');
    const out = pickWinner([base, noisy], 'baseline', 'speed');
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/^Keep the baseline/);
    expect(out.explanation).toMatch(/noisy \(no-gain, 1\.23x, 95% interval 0\.90-1\.60\)/);
  });

  it('says keep the baseline and why when nothing passes', () => {
    const out = pickWinner(
      [base, r('bad', 3, [2.5, 3.5], 0.5), r('slow', 0.8, [0.7, 0.9], 0.99)],
      'baseline',
      'balance',
    );
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/Keep the baseline/);
    expect(out.explanation).toMatch(/Rejected for quality: bad/);
    expect(out.explanation).toMatch(/slow \(slower/);
  });

  it('never recommends an explanatory recipe', () => {
    const out = pickWinner(
      [base, r('graph-basic', 1.5, [1.4, 1.6], 0.99, { explanatory: true })],
      'baseline',
      'speed',
    );
    expect(out.winner).toBeNull();
  });

  it('breaks near speed ties by peak memory', () => {
    const a = r('a', 2, [1.9, 2.1], 0.95, { peakRssMb: 900 });
    const b = r('b', 1.97, [1.9, 2.1], 0.95, { peakRssMb: 300 });
    const out = pickWinner([base, a, b], 'baseline', 'speed');
    expect(out.winner).toBe('b');
    expect(out.explanation).toMatch(/tied within 3% with a/);
  });

  it('recommends nothing without a baseline', () => {
    const out = pickWinner(
      [{ ...base, status: 'failed', latencyMean: null }, fastLow],
      'baseline',
      'speed',
    );
    expect(out.winner).toBeNull();
    expect(out.explanation).toMatch(/baseline \(baseline\) did not complete/);
  });

  it('keeps only undominated candidates on the Pareto front', () => {
    const dominated = r('dominated', 1.2, [1.1, 1.3], 0.9);
    expect(paretoFront([fastLow, midMid, slowHigh, dominated]).map((x) => x.name)).toEqual([
      'fast-low',
      'mid',
      'slow-high',
    ]);
  });
});

describe('fitVerdict', () => {
  it('says why a variant cannot fit, and lets unknown memory through', () => {
    expect(fitVerdict(1000 * 2 ** 20, 1000, 'this machine')).toMatch(/needs about 1500 MB/);
    expect(fitVerdict(100 * 2 ** 20, 1000, 'this machine')).toBeNull();
    expect(fitVerdict(1000 * 2 ** 20, null, 'the GPU')).toBeNull();
  });
});
