import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alphasCumprod, makeBetas } from '../../src/main/engine/schedulers/betas';
import { createScheduler } from '../../src/main/engine/schedulers';
import { goldenSubdir } from './golden-dir';

/**
 * Replays every scheduler case in $GOLDEN_DIR/schedulers exactly as its README describes:
 * the scheduler is built from the file's `scheduler` class name and `full_config` (never from the
 * file name), latents start at base·init_noise_sigma, the fake model is ε = 0.3·x + 0.01·(t/1000)
 * in float32, and stochastic steps get the replayed noise cos(0.07·i + 0.9·j).
 *
 * Tolerance: |a − b| ≤ 1e-4 · max(1, |b|). Relative (1e-4) where values are large — Euler latents
 * reach ~15 — and absolute (1e-4) near zero, where a relative error is meaningless: there values
 * come from cancellations, and float32 rounding (~1e-7 of the operands) dominates. The reference
 * was float32 torch and the files round to 7 significant digits, both far inside this bound.
 */

const TOLERANCE = 1e-4;

interface GoldenStep {
  i: number;
  t: number;
  model_input: number[];
  latents: number[];
  denoised?: number[];
}

interface GoldenCase {
  name: string;
  scheduler: string;
  num_inference_steps: number;
  full_config: Record<string, unknown>;
  timesteps: number[];
  timesteps_dtype: 'float32' | 'int64';
  sigmas: number[] | null;
  init_noise_sigma: number;
  step_kwargs: { eta?: number };
  initial_latents: number[];
  steps: GoldenStep[];
  noise_draws: { step: number }[];
  final: number[];
  final_is: string;
}

const f32 = Math.fround;
const LATENT_SIZE = 4 * 8 * 8;

/** First element outside tolerance, described; undefined when all match. */
function mismatch(actual: ArrayLike<number>, expected: ArrayLike<number>): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length} ≠ ${expected.length}`;
  let worst: string | undefined;
  let worstRatio = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    const ratio = Math.abs(a - b) / (TOLERANCE * Math.max(1, Math.abs(b)));
    if (!(ratio <= worstRatio)) {
      worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
      worst = `[${i}] got ${a}, expected ${b} (${ratio.toFixed(1)}× the tolerance)`;
    }
  }
  return worst;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const bad = mismatch(actual, expected);
  expect(bad, `${what}: ${bad}`).toBeUndefined();
}

const golden = goldenSubdir('schedulers');
const caseFiles = golden.exists
  ? readdirSync(golden.dir)
      .filter((f) => f.endsWith('.json') && f !== 'alphas_cumprod.json')
      .sort()
  : [];
const suiteName = golden.exists
  ? `scheduler golden trajectories (${golden.dir}, ${caseFiles.length} cases)`
  : `scheduler golden trajectories — SKIPPED: ${golden.skipReason}`;

describe.skipIf(!golden.exists)(suiteName, () => {
  it('has cases', () => {
    expect(caseFiles.length).toBeGreaterThan(0);
  });

  it('alphas_cumprod.json: SD 1.x scaled_linear betas and alphas_cumprod match exactly', () => {
    const ref = JSON.parse(readFileSync(join(golden.dir, 'alphas_cumprod.json'), 'utf8')) as {
      betas: number[];
      alphas_cumprod: number[];
    };
    const betas = makeBetas({
      num_train_timesteps: ref.betas.length,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
    });
    expect(Array.from(betas)).toEqual(ref.betas.map(f32));
    expect(Array.from(alphasCumprod(betas))).toEqual(ref.alphas_cumprod.map(f32));
  });

  describe.each(caseFiles)('%s', (file) => {
    it('reproduces timesteps, sigmas and every step', () => {
      const g = JSON.parse(readFileSync(join(golden.dir, file), 'utf8')) as GoldenCase;
      const scheduler = createScheduler(g.scheduler, g.full_config, g.num_inference_steps, {
        eta: g.step_kwargs.eta,
      });

      if (g.timesteps_dtype === 'int64') expect([...scheduler.timesteps]).toEqual(g.timesteps);
      else expectClose(scheduler.timesteps, g.timesteps, 'timesteps');
      if (g.sigmas) expectClose(scheduler.sigmas ?? [], g.sigmas, 'sigmas');
      expectClose([scheduler.initNoiseSigma], [g.init_noise_sigma], 'init_noise_sigma');

      const initNoise = f32(scheduler.initNoiseSigma);
      let latents: Float32Array = new Float32Array(LATENT_SIZE);
      for (let i = 0; i < LATENT_SIZE; i++) latents[i] = f32(Math.sin(0.1 * i)) * initNoise;
      expectClose(latents, g.initial_latents, 'initial_latents');

      const draws: number[] = [];
      let lastDenoised: Float32Array | undefined;
      scheduler.timesteps.forEach((t, j) => {
        const expected = g.steps[j];
        const input = scheduler.scaleModelInput(latents, t);
        expectClose(input, expected.model_input, `step ${j} (t=${t}) model_input`);
        // The fake model, in float32: ε = 0.3·x + 0.01·(t/1000).
        const shift = f32(0.01 * f32(t / 1000));
        const eps = input.map((x) => f32(f32(0.3 * x) + shift));
        const noise = (length: number): Float32Array => {
          draws.push(j);
          return Float32Array.from({ length }, (_, i) => Math.cos(0.07 * i + 0.9 * j));
        };
        const out = scheduler.step(eps, t, latents, noise);
        latents = out.prevSample;
        lastDenoised = out.denoised;
        expectClose(latents, expected.latents, `step ${j} (t=${t}) latents`);
        if (expected.denoised) {
          expectClose(out.denoised ?? [], expected.denoised, `step ${j} (t=${t}) denoised`);
        }
      });
      expect(g.steps).toHaveLength(scheduler.timesteps.length);
      expect(draws).toEqual(g.noise_draws.map((d) => d.step));
      const final = g.final_is.startsWith('denoised') ? lastDenoised : latents;
      expectClose(final ?? [], g.final, 'final');
    });
  });
});
