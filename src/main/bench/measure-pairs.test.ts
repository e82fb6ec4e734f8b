import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { PipelineRequest, PipelineResult } from '../engine/protocol';
import { ADAPTIVE_MAX_FACTOR, measureRecipe, type CaseRun, type MeasureSetup } from './measure';
import { findRecipe } from './recipes';
import { pairedSpeedup } from './stats';
import { SHAPES_SET } from './test-sets';

/**
 * measureRecipe with fake engines: the first engine made is the candidate's, the second the
 * interleaved baseline's. Each run's latency is its side's cost × a machine that slows down steadily
 * (`drift`) × its own noise (seeded), so the test sees which runs pair and how many there are.
 */
const sim = vi.hoisted(() => ({
  noise: 0,
  /** How much slower the machine gets with each run (a share of its starting speed). */
  drift: 2 / 60,
  /** Every run in order: which engine, and its latency. */
  log: [] as { engine: number; ms: number }[],
  engines: 0,
  seed: 1,
}));

vi.mock('./variants', () => ({ prepareVariant: async (dir: string) => dir }));
vi.mock('../hardware/live-sampler', () => ({
  GpuReader: class {},
  PeakTracker: class {
    begin() {}
    async end() {
      return { peakRssMb: 100, peakGpuMb: null, meanCpuPercent: 50 };
    }
  },
}));
vi.mock('../engine/engine-client', () => ({
  EngineClient: class {
    readonly pid = 1;
    private readonly engine = sim.engines++ % 2; // 0: candidate, 1: baseline
    async stats() {
      return { maxRssMb: 200, rssMb: 80, cpuMs: 0 };
    }
    async run(_id: string, request: PipelineRequest): Promise<PipelineResult> {
      sim.seed = (Math.imul(sim.seed, 1103515245) + 12345) >>> 0;
      const u = sim.seed / 2 ** 32;
      const machine = 1 + sim.drift * sim.log.length;
      const cost = (this.engine === 0 ? 100 : 200) * machine;
      const ms = cost * (1 + sim.noise * (2 * u - 1));
      sim.log.push({ engine: this.engine, ms });
      const timings = { tokenize: 1, textEncoder: 1, unet: ms - 3, vae: 1, ort: ms, load: 0 };
      return {
        images: [{ png: new Uint8Array([request.seed ?? 0]) }],
        seed: request.seed ?? 0,
        steps: 10,
        guidance: 7.5,
        scheduler: 'euler',
        timings: { ...timings, total: ms, encode: 0 },
        warnings: [],
        providers: { unet: 'cpu' },
      } as unknown as PipelineResult;
    }
    cancel() {}
    async close() {}
  },
}));

const baseline = findRecipe('baseline');
const setup = (o: Partial<MeasureSetup>): MeasureSetup => ({
  jobId: 'j',
  home: '/tmp',
  model: { dir: '/m', family: 'sd1' },
  settings: 'model',
  defaultSteps: 10,
  testSet: { ...SHAPES_SET, cases: SHAPES_SET.cases.slice(0, 3) },
  repeats: 2,
  warmup: 0,
  ep: 'cpu',
  physicalCores: 2,
  batch: 1,
  imagesDir: '/tmp',
  profileOps: false,
  settleMs: 0,
  isCancelled: () => false,
  progress: () => {},
  ...o,
});

async function measure(o: Partial<MeasureSetup>, noise: number, drift = 2 / 60) {
  sim.noise = noise;
  sim.drift = drift;
  const cases: CaseRun[] = [];
  const run = await measureRecipe(setup(o), findRecipe('dpm-fast'), (c) => void cases.push(c));
  return { run, cases };
}

beforeEach(() => {
  sim.log = [];
  sim.engines = 0;
  sim.seed = 1;
});

describe('measureRecipe with an interleaved baseline', () => {
  it('pairs run i with the baseline run made right beside it (ABBA), one to one', async () => {
    const { cases } = await measure({ reference: baseline, adaptive: false }, 0);
    expect(cases.map((c) => c.latencies.length)).toEqual([2, 2, 2]);
    // The runs went r c | c r per case: each candidate run is adjacent to its baseline run.
    expect(sim.log.map((r) => r.engine).join('')).toBe('100110011001');
    let at = 0;
    for (const c of cases)
      for (const [i, ms] of c.latencies.entries()) {
        const pair = sim.log.slice(at, at + 2);
        at += 2;
        expect(pair.map((p) => p.ms).sort()).toEqual([ms, c.referenceLatencies?.[i]].sort());
      }
    // The machine slowed down by a third over the run; paired, the 2x stands out.
    const e = pairedSpeedup(
      cases.map((c) => ({
        base: c.referenceLatencies ?? [],
        candidate: c.latencies,
        paired: true,
      })),
    );
    expect(e.method).toBe('pairs');
    expect(e.ci?.[0]).toBeGreaterThan(1.9);
    expect(e.ci?.[1]).toBeLessThan(2.1);
  });

  it('adds pairs while the interval is too wide, within the cap, and records the load', async () => {
    const { cases, run } = await measure({ reference: baseline }, 0.3);
    const counts = cases.map((c) => c.latencies.length);
    expect(Math.max(...counts)).toBeGreaterThan(2);
    for (const c of cases) {
      expect(c.latencies.length).toBeLessThanOrEqual(2 * ADAPTIVE_MAX_FACTOR);
      expect(c.referenceLatencies).toHaveLength(c.latencies.length);
    }
    // Stage means are over the runs the case really had.
    const c0 = cases[0];
    const meanMs = c0.latencies.reduce((a, b) => a + b, 0) / c0.latencies.length;
    expect(c0.stages.ort).toBeCloseTo(meanMs, 6);
    expect(run.loadAvg?.cores).toBeGreaterThan(0);
    expect(run.loadAvg?.before).toBeGreaterThanOrEqual(0);
  });

  it('keeps the configured repeats when quiet, when turned off, and without a reference', async () => {
    const quiet = await measure({ reference: baseline }, 0.01, 0);
    expect(quiet.cases.map((c) => c.latencies.length)).toEqual([2, 2, 2]);
    const off = await measure({ reference: baseline, adaptive: false }, 0.3);
    expect(off.cases.map((c) => c.latencies.length)).toEqual([2, 2, 2]);
    const alone = await measure({ adaptive: true }, 0.3);
    expect(alone.cases.map((c) => c.latencies.length)).toEqual([2, 2, 2]);
    expect(alone.cases[0].referenceLatencies).toBeUndefined();
  });
});
