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
