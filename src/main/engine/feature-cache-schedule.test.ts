import { describe, expect, it } from 'vitest';
import { fullSteps, guidedStep } from './feature-cache-schedule';

describe('fullSteps', () => {
  it('runs every step full without a cache or at interval 1', () => {
    expect([...fullSteps(5, undefined)]).toEqual([0, 1, 2, 3, 4]);
    expect([...fullSteps(5, { interval: 1 })]).toEqual([0, 1, 2, 3, 4]);
  });

  it('uniform: every N-th step, starting with the first', () => {
    expect([...fullSteps(25, { interval: 5 })]).toEqual([0, 5, 10, 15, 20]);
    expect([...fullSteps(10, { interval: 3 })]).toEqual([0, 3, 6, 9]);
  });

  it('center: as many full steps as uniform, step 0 among them, denser near 30%', () => {
    for (const [steps, interval] of [
      [25, 5],
      [50, 3],
      [25, 2],
      [10, 3],
    ]) {
      const full = [...fullSteps(steps, { interval, schedule: 'center' })].sort((a, b) => a - b);
      expect(full.length).toBe(Math.ceil(steps / interval));
      expect(full[0]).toBe(0);
      expect(full.every((s) => s >= 0 && s < steps)).toBe(true);
    }
    const full = [...fullSteps(50, { interval: 5, schedule: 'center' })].sort((a, b) => a - b);
    const gaps = full.slice(1).map((s, i) => s - full[i]);
    // The smallest gap lies near the centre (step 15), the gaps grow towards the end.
    const smallest = gaps.indexOf(Math.min(...gaps));
    expect(full[smallest]).toBeGreaterThanOrEqual(8);
    expect(full[smallest + 1]).toBeLessThanOrEqual(22);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(Math.min(...gaps));
  });
});

describe('guidedStep', () => {
  it('guides everywhere without an interval, only inside it with one', () => {
    expect(guidedStep(24, 25, undefined)).toBe(true);
    const g = { start: 0, end: 0.7 };
    expect([...Array(10).keys()].map((i) => guidedStep(i, 10, g))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
