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
  /**
   * The i-th baseline run was measured right beside the i-th candidate run (the interleaved bench
   * runs them alternately in ABBA order), so the two share the machine's state at that moment.
   * Absent or false: the baseline runs were made elsewhere (its own row, earlier) and pair nothing.
   */
  paired?: boolean;
}

export interface SpeedupEstimate {
  /** Baseline mean over candidate mean (every case weighs by its own latency, as the contract says). */
  speedup: number;
  /** 95% interval of the speed-up; null when the runs cannot show the noise (one case, one run). */
  ci: [number, number] | null;
  /**
   * How the interval was computed: `pairs` (per-pair log ratios of adjacent runs), `repeats`
   * (unpaired run-to-run spread inside each case), `cases` (one run per case: spread over cases),
   * `none` (no interval).
   */
  method: 'pairs' | 'repeats' | 'cases' | 'none';
  /** How many ratios the interval rests on (pairs, or cases); 0 without an interval. */
  n: number;
}

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const variance = (v: readonly number[]): number => {
  const m = mean(v);
  return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
};

/** Whether every case's runs are paired one to one (the i-th baseline run beside the i-th candidate's). */
const isPaired = (c: PairedCase): boolean =>
  c.paired === true && c.base.length === c.candidate.length;

/** log(base / candidate) of each adjacent pair, over all cases. */
export function pairLogRatios(cases: readonly PairedCase[]): number[] {
  return cases.filter(isPaired).flatMap((c) => c.base.map((b, i) => Math.log(b / c.candidate[i])));
}

/**
 * The half-width, in log space (≈ relative), of a paired 95% t interval over these log ratios,
 * with `more` further ratios of the same spread to come (0: the interval as it stands). Infinity
 * while fewer than two ratios cannot show a spread.
 */
export function logHalfWidth(logs: readonly number[], more = 0): number {
  if (logs.length < 2) return Infinity;
  const n = logs.length + more;
  return t95(n - 1) * Math.sqrt(variance(logs) / n);
}

/**
 * The paired speed-up of a candidate against the baseline, case by case (same prompt, seed and
 * steps), with a 95% interval in log space centred on the point estimate.
 *
 * - Paired runs (`paired`: the interleaved bench ran each candidate run beside a baseline run, in
 *   ABBA order): each pair's log(base/candidate) sees the machine in one state, so whatever the
 *   machine does between pairs (drift, a busy spell, a turbo clock) cancels inside the pair. The
 *   interval is a paired t interval over the pairs pooled across cases, df = pairs − 1; pooling
 *   also counts real differences between cases as noise, which only widens it. Why t and not a
 *   bootstrap: a run has few pairs (often 5-20), where a bootstrap's percentiles are themselves
 *   noisy and too narrow, while log ratios of latencies are close to normal (multiplicative noise
 *   becomes additive), which is what the t interval assumes.
 * - Unpaired, with at least two runs per case on both sides: the noise is the run-to-run spread
 *   inside each case: the sums of case means B and C have variances sum(s²/n), so var(log B/C) ≈
 *   var(B)/B² + var(C)/C² (delta method), with Welch–Satterthwaite degrees of freedom.
 * - With one run per case, the spread of the per-case log ratios stands in for it (a paired t
 *   interval over cases, df = cases − 1): wider, because it also holds real differences between cases.
 * - One case with one run cannot tell a gain from noise: no interval.
 *
 * The point estimate is always the ratio of the means over all runs (the contract: speed-up =
 * baseline mean / recipe mean); the interval takes only its spread from the pairs and is centred
 * on it, so the printed speed-up always lies inside its own interval.
 */
export function pairedSpeedup(cases: readonly PairedCase[]): SpeedupEstimate {
  const usable = cases.filter((c) => c.base.length > 0 && c.candidate.length > 0);
  const all = (pick: (c: PairedCase) => readonly number[]) => usable.flatMap(pick);
  const speedup = mean(all((c) => c.base)) / mean(all((c) => c.candidate));
  if (usable.length === 0 || !Number.isFinite(speedup))
    return { speedup: NaN, ci: null, method: 'none', n: 0 };
  const around = (se: number, df: number): [number, number] => {
    const half = t95(df) * se;
    return [speedup * Math.exp(-half), speedup * Math.exp(half)];
  };
  if (usable.every(isPaired)) {
    const logs = pairLogRatios(usable);
    if (logs.length > 1) {
      const half = logHalfWidth(logs);
      return {
        speedup,
        ci: [speedup * Math.exp(-half), speedup * Math.exp(half)],
        method: 'pairs',
        n: logs.length,
      };
    }
  }
  if (usable.every((c) => c.base.length > 1 && c.candidate.length > 1)) {
    const B = usable.reduce((a, c) => a + mean(c.base), 0);
    const C = usable.reduce((a, c) => a + mean(c.candidate), 0);
    // Each case's share of var(log B/C), and its degrees of freedom.
    const parts = usable.flatMap((c) => [
      { v: variance(c.base) / c.base.length / B ** 2, df: c.base.length - 1 },
      { v: variance(c.candidate) / c.candidate.length / C ** 2, df: c.candidate.length - 1 },
    ]);
    const n = usable.length;
    const v = parts.reduce((a, p) => a + p.v, 0);
    if (v === 0) return { speedup, ci: [speedup, speedup], method: 'repeats', n };
    const df = v ** 2 / parts.reduce((a, p) => a + p.v ** 2 / p.df, 0);
    return { speedup, ci: around(Math.sqrt(v), df), method: 'repeats', n };
  }
  if (usable.length > 1) {
    const logs = usable.map((c) => Math.log(mean(c.base) / mean(c.candidate)));
    const se = Math.sqrt(variance(logs) / logs.length);
    return { speedup, ci: around(se, logs.length - 1), method: 'cases', n: logs.length };
  }
  return { speedup, ci: null, method: 'none', n: 0 };
}
