import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineClient } from '../../src/main/engine/engine-client';
import type { PipelineRequest } from '../../src/main/engine/protocol';
import { QualityClient } from '../../src/main/bench/quality-client';
import { probeProviders } from '../../src/main/hardware/provider-probe';
import { runOptimizeJob } from '../../src/main/optimize/optimize-client';
import { partialDir } from '../../src/main/optimize/variant-files';
import * as buildVariant from '../../src/main/optimize/build-variant';
import * as variantFiles from '../../src/main/optimize/variant-files';
import {
  startWorker,
  useChildProcess,
  useUtilityProcess,
} from '../../src/main/workers/worker-process';
import { utilityProcessStandIn } from '../helpers/utility-process-standin';
import { tempHome } from '../helpers/temp-home';

/**
 * One "start a worker" abstraction for both runtimes. Under Electron the workers run as utility
 * processes (checked here against a stand-in for `utilityProcess`, since Electron cannot run on
 * these machines); under Node they are forked children. The engine, the optimizer, the image
 * quality worker and the provider probes all work over both, with the same messages.
 */
const tiny = resolve('resources/models/tiny-shapes');
const request: PipelineRequest = {
  modelDir: tiny,
  prompt: 'a red circle',
  negativePrompt: '',
  seed: 3,
  batch: 1,
  ep: 'cpu',
  steps: 2,
  guidance: 7.5,
  previewEvery: 0,
};
const home = tempHome();
afterAll(() => home.cleanup());
afterEach(() => useChildProcess());

describe('workers under Electron (utilityProcess stand-in)', () => {
  it('the engine runs as a utility process, without ELECTRON_RUN_AS_NODE, and a SIGKILL fails the run with the reason', async () => {
    const utility = utilityProcessStandIn();
    useUtilityProcess(utility);
    process.env.ELECTRON_RUN_AS_NODE = '1';
    const engine = new EngineClient();
    try {
      const result = await engine.run('u-1', request, () => {});
      expect(result.images).toHaveLength(1);
      expect(result.images[0].png.subarray(1, 4).toString()).toBe('PNG');
      expect(utility.calls).toHaveLength(1);
      const call = utility.calls[0];
      expect(call.modulePath).toMatch(/engine-worker\.(ts|js)$/);
      expect(call.options?.stdio).toBe('pipe');
      expect(call.options?.serviceName).toBe('Latent Studio engine');
      expect(call.options?.env).not.toHaveProperty('ELECTRON_RUN_AS_NODE');

      let killed = false;
      const doomed = engine.run('u-2', { ...request, steps: 40 }, (p) => {
        if (!killed && p.stage === 'denoise' && p.step >= 1) {
          killed = true;
          process.kill(engine.pid as number, 'SIGKILL');
        }
      });
      await expect(doomed).rejects.toThrow(/engine process was killed \(SIGKILL/);
      // The next request starts a fresh utility process.
      const again = await engine.run('u-3', request, () => {});
      expect(again.images).toHaveLength(1);
      expect(utility.calls).toHaveLength(2);
    } finally {
      delete process.env.ELECTRON_RUN_AS_NODE;
      await engine.close();
    }
  });

  it('image quality, provider probes and the optimizer run as utility processes too', async () => {
    const utility = utilityProcessStandIn();
    useUtilityProcess(utility);
    const quality = new QualityClient();
    try {
      const engine = new EngineClient();
      const [a, b] = await Promise.all([
        engine.run('q-1', request, () => {}),
        engine.run('q-2', { ...request, seed: 4 }, () => {}),
      ]);
      await engine.close();
      const pngA = a.images[0].png;
      const pngB = b.images[0].png;
      const same = await quality.compare(pngA, pngA);
      expect(same.ssim).toBe(1);
      expect(same.maxAbsDiff).toBe(0);
      const judged = await quality.judge(pngB, pngA);
      expect(judged.inspection.problem).toBeNull();
      expect(judged.metrics?.ssim).toBeLessThan(1);
      expect(
        Buffer.from(judged.heatmap ?? [])
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
      await expect(quality.compare(pngA, Uint8Array.from([1, 2, 3]))).rejects.toThrow(
        /candidate image is not a readable PNG/,
      );

      const providers = await probeProviders();
      expect(providers.find((p) => p.name === 'cpu')).toMatchObject({ bundled: true, works: true });

      const out = join(home.dir, 'graph-all');
      const built = await runOptimizeJob({
        sourceDir: tiny,
        recipe: 'graph-all',
        outDir: out,
        force: false,
      });
      expect(built.outDir).toBe(out);
      expect(existsSync(join(out, variantFiles.MANIFEST))).toBe(true);
      expect(existsSync(partialDir(out))).toBe(false);

      const started = utility.calls.map((c) => c.modulePath.replace(/^.*\/|\.(ts|js)$/g, ''));
      expect(new Set(started)).toEqual(
        new Set(['engine-worker', 'quality-worker', 'provider-probe', 'optimize-worker']),
      );
      expect(utility.calls.filter((c) => c.args[0] === '--list-backends')).toHaveLength(1);
    } finally {
      quality.close();
    }
  });

  it('a quality worker killed mid-request fails it with the reason; the next request works', async () => {
    const utility = utilityProcessStandIn();
    useUtilityProcess(utility);
    const quality = new QualityClient();
    try {
      const engine = new EngineClient();
      const r = await engine.run('k-1', request, () => {});
      await engine.close();
      const image = r.images[0].png;
      await quality.compare(image, image);
      const pending = quality.compare(image, image);
      process.kill(quality.pid as number, 'SIGKILL');
      await expect(pending).rejects.toThrow(/image-quality process was killed \(SIGKILL/);
      expect((await quality.compare(image, image)).ssim).toBe(1);
    } finally {
      quality.close();
    }
  });
});

describe('workers under Node', () => {
  it('are forked children speaking the same messages', async () => {
    const worker = startWorker('provider-probe', { args: ['--list-backends'] });
    expect(worker.kind).toBe('child');
    const answer = await new Promise<unknown>((done) => worker.onMessage(done));
    expect(answer).toMatchObject({
      backends: expect.arrayContaining([{ name: 'cpu', bundled: true }]),
    });
    worker.kill('SIGKILL');
  });

  it('the variant file names the studio uses agree with the builder', () => {
    expect(variantFiles.MANIFEST).toBe(buildVariant.MANIFEST);
    expect(variantFiles.partialDir('/x/y')).toBe(buildVariant.partialDir('/x/y'));
  });
});
