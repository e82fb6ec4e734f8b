/** Mean, sample standard deviation and median: the figures every benchmark row reports. */
export function stats(values: readonly number[]): { mean: number; std: number; median: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN, median: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const sorted = [...values].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { mean, std, median };
}

/** Two-sided 95% Student t quantiles for 1..30 degrees of freedom (standard tables). */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (fractional df round down). */
export function t95(df: number): number {
  if (!(df >= 1)) return Infinity;
  const d = Math.floor(df);
  if (d <= 30) return T95[d - 1];
  // Beyond the table the normal quantile plus the first correction term is within 0.1%.
  return 1.96 + 2.4 / d;
}

/** One test case's measured latencies for the baseline (`base`) and a candidate. */
export interface PairedCase {
  base: readonly number[];
  candidate: readonly number[];
}

export interface SpeedupEstimate {
  /** Baseline mean over candidate mean (every case weighs by its own latency, as the contract says). */
  speedup: number;
  /** 95% interval of the speed-up; null when the runs cannot show the noise (one case, one run). */
  ci: [number, number] | null;
  /** How the interval was computed, in words for the explanation. */
  method: 'repeats' | 'cases' | 'none';
}

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: readonly number[]): number => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
};

/**
 * The paired speed-up of a candidate against the baseline, case by case (same prompt, seed and
 * steps), with a 95% interval in log space centred on the point estimate.
 *
 * - With at least two runs per case on both sides the noise is the run-to-run spread inside each
 *   case: the sums of case means B and C have variances sum(s²/n), so var(log B/C) ≈
 *   var(B)/B² + var(C)/C² (delta method), with Welch–Satterthwaite degrees of freedom.
 * - With one run per case, the spread of the per-case log ratios stands in for it (a paired t
 *   interval over cases, df = cases − 1): wider, because it also holds real differences between cases.
 * - One case with one run cannot tell a gain from noise: no interval.
 */
export function pairedSpeedup(cases: readonly PairedCase[]): SpeedupEstimate {
  const usable = cases.filter((c) => c.base.length > 0 && c.candidate.length > 0);
  const all = (pick: (c: PairedCase) => readonly number[]) => usable.flatMap(pick);
  const speedup = mean(all((c) => c.base)) / mean(all((c) => c.candidate));
  if (usable.length === 0 || !Number.isFinite(speedup))
    return { speedup: NaN, ci: null, method: 'none' };
  const around = (se: number, df: number): [number, number] => {
    const half = t95(df) * se;
    return [speedup * Math.exp(-half), speedup * Math.exp(half)];
  };
  if (usable.every((c) => c.base.length > 1 && c.candidate.length > 1)) {
    const B = usable.reduce((a, c) => a + mean(c.base), 0);
    const C = usable.reduce((a, c) => a + mean(c.candidate), 0);
    // Each case's share of var(log B/C), and its degrees of freedom.
    const parts = usable.flatMap((c) => [
      { v: variance(c.base) / c.base.length / B ** 2, df: c.base.length - 1 },
      { v: variance(c.candidate) / c.candidate.length / C ** 2, df: c.candidate.length - 1 },
    ]);
    const v = parts.reduce((a, p) => a + p.v, 0);
    if (v === 0) return { speedup, ci: [speedup, speedup], method: 'repeats' };
    const df = v ** 2 / parts.reduce((a, p) => a + p.v ** 2 / p.df, 0);
    return { speedup, ci: around(Math.sqrt(v), df), method: 'repeats' };
  }
  if (usable.length > 1) {
    const logs = usable.map((c) => Math.log(mean(c.base) / mean(c.candidate)));
    const se = Math.sqrt(variance(logs) / logs.length);
    return { speedup, ci: around(se, logs.length - 1), method: 'cases' };
  }
  return { speedup, ci: null, method: 'none' };
}
