import { describe, expect, it } from 'vitest';
import {
  diagnose,
  FindingSchema,
  isAcceleratorProvider,
  type DiagnosisInput,
  type FindingId,
} from './diagnosis';

/** Figures that trigger no rule: a fast, lean, busy CPU run with good quality. */
const healthy: DiagnosisInput = {
  latencyMsPerImage: 2_000,
  peakRssMb: 1_500,
  modelSizeMb: 1_000,
  cpuPercentDuringRun: 90,
  provider: 'cpu',
  ssim: 0.95,
  psnr: 35,
  stages: { textEncoder: 100, unet: 1_600, vae: 300 },
  ramTotalMb: 16_000,
};

const ids = (input: Partial<DiagnosisInput>): FindingId[] =>
  diagnose({ ...healthy, ...input }).map((f) => f.id);

const finding = (input: Partial<DiagnosisInput>, id: FindingId) =>
  diagnose({ ...healthy, ...input }).find((f) => f.id === id);

describe('diagnose', () => {
  it('finds nothing in healthy figures, and every finding fits the schema', () => {
    expect(diagnose(healthy)).toEqual([]);
    const all = diagnose({
      latencyMsPerImage: 20_000,
      peakRssMb: 15_000,
      modelSizeMb: 2_000,
      cpuPercentDuringRun: 80,
      provider: 'cuda',
      ssim: 0.5,
      psnr: 15,
      stages: { textEncoder: 300, unet: 300, vae: 600 },
      ramTotalMb: 16_000,
    });
    expect(all.length).toBeGreaterThan(4);
    for (const f of all) expect(() => FindingSchema.parse(f)).not.toThrow();
  });

  it('compute-bound above 10 s per image, not at it', () => {
    expect(ids({ latencyMsPerImage: 10_000 })).not.toContain('compute-bound');
    const f = finding({ latencyMsPerImage: 10_001 }, 'compute-bound');
    expect(f?.severity).toBe('warning');
    expect(f?.evidence).toEqual({
      metric: 'latencyMsPerImage',
      value: 10_001,
      threshold: 10_000,
    });
    expect(f?.suggestions.join(' ')).toMatch(/few-step/i);
    expect(f?.suggestions.join(' ')).toMatch(/quantize/i);
    expect(f?.suggestions.join(' ')).toMatch(/GPU/);
    // Already on a GPU: do not suggest one.
    const onGpu = finding({ latencyMsPerImage: 12_000, provider: 'cuda' }, 'compute-bound');
    expect(onGpu?.suggestions.join(' ')).not.toMatch(/GPU execution provider/);
  });

  it('does not call a tiny model activation-bound when its excess is the runtime alone', () => {
    expect(ids({ peakRssMb: 150, modelSizeMb: 1 })).not.toContain('activation-bound');
    expect(ids({ peakRssMb: 2 + 256, modelSizeMb: 1 })).toContain('activation-bound');
  });

  it('activation-bound above 2x the model size, not at it', () => {
    expect(ids({ peakRssMb: 2_000, modelSizeMb: 1_000 })).not.toContain('activation-bound');
    const f = finding({ peakRssMb: 2_500, modelSizeMb: 1_000 }, 'activation-bound');
    expect(f?.evidence).toEqual({ metric: 'peakRssMb / modelSizeMb', value: 2.5, threshold: 2 });
    expect(f?.suggestions.join(' ')).toMatch(/sequential residency/i);
    expect(f?.suggestions.join(' ')).toMatch(/VAE tiling/i);
    expect(f?.suggestions.join(' ')).toMatch(/smaller batch/i);
    expect(ids({ peakRssMb: 2_500, modelSizeMb: 0 })).not.toContain('activation-bound');
  });

  it('host-bound only when a GPU provider runs and the CPU is above 50%', () => {
    expect(ids({ provider: 'cuda', cpuPercentDuringRun: 50 })).not.toContain('host-bound');
    expect(ids({ provider: 'cpu', cpuPercentDuringRun: 95 })).not.toContain('host-bound');
    const f = finding({ provider: 'dml', cpuPercentDuringRun: 51 }, 'host-bound');
    expect(f?.severity).toBe('warning');
    expect(f?.evidence.value).toBe(51);
    expect(f?.evidence.threshold).toBe(50);
  });

  it('over-optimized below SSIM 0.8, not at it', () => {
    expect(ids({ ssim: 0.8 })).not.toContain('over-optimized');
    const f = finding({ ssim: 0.79 }, 'over-optimized');
    expect(f?.severity).toBe('warning');
    expect(f?.evidence).toEqual({ metric: 'ssim', value: 0.79, threshold: 0.8 });
    expect(ids({ ssim: Number.NaN })).toContain('over-optimized');
    expect(ids({ ssim: undefined, psnr: undefined })).toEqual([]);
  });

  it('quality-degraded between the over-optimized and acceptable thresholds', () => {
    expect(ids({ ssim: 0.851, psnr: 25.1 })).not.toContain('quality-degraded');
    const bySsim = finding({ ssim: 0.85 }, 'quality-degraded');
    expect(bySsim?.evidence).toEqual({ metric: 'ssim', value: 0.85, threshold: 0.85 });
    const byPsnr = finding({ ssim: 0.9, psnr: 25 }, 'quality-degraded');
    expect(byPsnr?.evidence).toEqual({ metric: 'psnr', value: 25, threshold: 25 });
    // Over-optimized replaces, not adds to, the softer finding.
    expect(ids({ ssim: 0.5 })).not.toContain('quality-degraded');
  });

  it('vae-heavy above 40% of stage time, not at it', () => {
    expect(ids({ stages: { textEncoder: 0, unet: 600, vae: 400 } })).not.toContain('vae-heavy');
    const f = finding({ stages: { textEncoder: 0, unet: 590, vae: 410 } }, 'vae-heavy');
    expect(f?.severity).toBe('info');
    expect(f?.evidence.value).toBeCloseTo(0.41, 10);
    expect(f?.evidence.threshold).toBe(0.4);
    expect(f?.suggestions.join(' ')).toMatch(/tiling/i);
    const onGpu = finding(
      { provider: 'cuda', stages: { textEncoder: 0, unet: 500, vae: 500 } },
      'vae-heavy',
    );
    expect(onGpu?.suggestions.join(' ')).toMatch(/fp16 VAE/);
    expect(ids({ stages: { textEncoder: 0, unet: 0, vae: 0 } })).toEqual([]);
  });

  it('text-encoder-heavy above 20% of stage time, not at it', () => {
    expect(ids({ stages: { textEncoder: 200, unet: 800, vae: 0 } })).not.toContain(
      'text-encoder-heavy',
    );
    const f = finding({ stages: { textEncoder: 210, unet: 790, vae: 0 } }, 'text-encoder-heavy');
    expect(f?.evidence.value).toBeCloseTo(0.21, 10);
    expect(f?.suggestions.join(' ')).toMatch(/cache/i);
  });

  it('cpu-underused below 50% on the CPU provider only', () => {
    expect(ids({ cpuPercentDuringRun: 50 })).not.toContain('cpu-underused');
    expect(ids({ cpuPercentDuringRun: 20, provider: 'webgpu' })).not.toContain('cpu-underused');
    const f = finding({ cpuPercentDuringRun: 49 }, 'cpu-underused');
    expect(f?.severity).toBe('info');
    expect(f?.suggestions.join(' ')).toMatch(/threads/);
  });

  it('near-ram-limit above 80% of physical RAM, not at it, and only when RAM is known', () => {
    expect(ids({ peakRssMb: 1_600, modelSizeMb: 1_000, ramTotalMb: 2_000 })).not.toContain(
      'near-ram-limit',
    );
    const f = finding(
      { peakRssMb: 1_700, modelSizeMb: 1_000, ramTotalMb: 2_000 },
      'near-ram-limit',
    );
    expect(f?.evidence).toEqual({ metric: 'peakRssMb / ramTotalMb', value: 0.85, threshold: 0.8 });
    expect(ids({ peakRssMb: 1_700, modelSizeMb: 1_000, ramTotalMb: undefined })).not.toContain(
      'near-ram-limit',
    );
  });

  it('machine-loaded when the load average before or after exceeds 1.5x the cores (the bench itself keeps them busy), not at it', () => {
    expect(ids({ loadAvg: { before: 6, after: 6, cores: 4 } })).not.toContain('machine-loaded');
    expect(ids({ loadAvg: undefined })).not.toContain('machine-loaded');
    const f = finding({ loadAvg: { before: 1.2, after: 6.5, cores: 4 } }, 'machine-loaded');
    expect(f?.evidence).toEqual({ metric: 'loadAvg1m', value: 6.5, threshold: 6 });
    expect(f?.severity).toBe('warning');
    expect(f?.detail).toMatch(/1\.2 before and 6\.5 after the runs, on 4 cores/);
    expect(FindingSchema.parse(f)).toEqual(f);
    expect(ids({ loadAvg: { before: 6.1, after: 0.5, cores: 4 } })).toContain('machine-loaded');
  });

  it('puts warnings before info and cites the figure in the detail', () => {
    const findings = diagnose({
      ...healthy,
      latencyMsPerImage: 15_000,
      cpuPercentDuringRun: 30,
      stages: { textEncoder: 0, unet: 100, vae: 900 },
    });
    expect(findings.map((f) => f.severity)).toEqual(['warning', 'info', 'info']);
    expect(findings[0].detail).toContain('15.0 s');
  });
});

describe('isAcceleratorProvider', () => {
  it('treats everything but cpu and wasm as an accelerator', () => {
    expect(['cpu', 'wasm'].map(isAcceleratorProvider)).toEqual([false, false]);
    expect(['cuda', 'dml', 'webgpu', 'coreml'].every(isAcceleratorProvider)).toBe(true);
  });
});
