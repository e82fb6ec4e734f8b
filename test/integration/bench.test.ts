import { describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BenchResultSchema, RunDetailSchema } from '../../src/shared/bench-schemas';
import { dispatch } from '../../src/main/services/dispatch';
import { useTempStudio } from '../helpers/temp-studio';
import { MAX_PROPOSED } from '../../src/main/bench/wizard';

/** The benchmark lab end to end on a fixture model: real ONNX Runtime, a real SQLite file. */
const model = resolve('test/fixtures/models/sd15-optimum-float');
const ctx = useTempStudio();

const bench = (input: Record<string, unknown>) =>
  dispatch(ctx.studio.handlers, 'runBenchmark', {
    model,
    repeats: 2,
    warmup: 1,
    maxCases: 2,
    ...input,
  });

describe('benchmark lab', () => {
  let runId = 0;

  it(
    'measures recipes against the honest baseline, with paired intervals and noise-aware verdicts',
    {
      timeout: 180_000,
    },
    async () => {
      const result = BenchResultSchema.parse(
        await bench({ recipes: ['graph-basic', 'dpm-fast'], stack: false }),
      );
      runId = result.runId;
      expect(result).toMatchObject({
        baseline: 'baseline',
        settings: 'model',
        ep: 'cpu',
        interleaved: true,
      });
      expect(result.recipes.map((r) => r.name)).toEqual(['baseline', 'graph-basic', 'dpm-fast']);
      const [baseline, graph, dpm] = result.recipes;
      expect(baseline).toMatchObject({ status: 'ok', verdict: 'baseline', speedup: 1, ssim: null });
      // Same weights, same scheduler, another graph level: images match the baseline almost exactly.
      expect(graph.ssim).toBeGreaterThan(0.99);
      for (const r of [baseline, graph, dpm]) {
        expect(r.status).toBe('ok');
        expect(r.latencyMs?.mean).toBeGreaterThan(0);
        expect(r.peakRssMb).toBeGreaterThan(10);
        expect(r.loadMs).toBeGreaterThan(0); // the first run creates the sessions
        expect(r.firstImageMs).toBeGreaterThanOrEqual(r.loadMs ?? 0);
      }
      for (const r of [graph, dpm]) {
        const [lo, hi] = r.speedupCi ?? [NaN, NaN];
        expect(lo).toBeLessThanOrEqual(r.speedup ?? NaN);
        expect(hi).toBeGreaterThanOrEqual(r.speedup ?? NaN);
        // "faster" only when the interval lies above 1; never relabelled otherwise.
        if (r.verdict === 'faster' || r.verdict === 'recommended') expect(lo).toBeGreaterThan(1);
      }
      expect(graph.verdict).not.toBe('recommended'); // explanatory, never the answer
      if (result.recommended === null) expect(result.explanation).toMatch(/^Keep the baseline/);
      else
        expect(result.recipes.find((r) => r.name === result.recommended)?.verdict).toBe(
          'recommended',
        );
    },
  );

  it('stores the run: history, detail with cases, images, heatmaps and findings', async () => {
    const [entry] = await dispatch(ctx.studio.handlers, 'getHistory', { limit: 1 });
    expect(entry).toMatchObject({ id: runId, kind: 'bench', status: 'done' });
    const detail = RunDetailSchema.parse(await dispatch(ctx.studio.handlers, 'getRun', { runId }));
    const graph = detail.recipes.find((r) => r.name === 'graph-basic');
    expect(graph?.cases).toHaveLength(2);
    for (const c of graph?.cases ?? []) {
      expect(existsSync(c.imagePath as string)).toBe(true);
      expect(existsSync(c.heatmapPath as string)).toBe(true);
      expect(c.latencyMs.mean).toBeGreaterThan(0);
    }
    expect(detail.recipes.find((r) => r.name === 'baseline')?.cases[0].heatmapPath).toBeNull();
    // The v2 figures come back from the store.
    expect(graph?.speedupCi).toHaveLength(2);
    expect(graph?.loadMs).toBeGreaterThan(0);
    const row = ctx.studio.db.prepare('PRAGMA integrity_check').get() as {
      integrity_check: string;
    };
    expect(row.integrity_check).toBe('ok');
  });

  it('compares two runs recipe by recipe and case by case', async () => {
    const second = await bench({ recipes: ['graph-basic'], repeats: 1, warmup: 0 });
    const c = await dispatch(ctx.studio.handlers, 'compareRuns', {
      runA: runId,
      runB: second.runId,
    });
    const graph = c.recipes.find((r) => r.name === 'graph-basic');
    expect(graph?.speedup).toBeCloseTo((graph?.latencyA ?? 0) / (graph?.latencyB ?? 1), 6);
    expect(graph?.cases).toHaveLength(2);
    expect(c.recipes.find((r) => r.name === 'dpm-fast')?.latencyB).toBeNull();
  });

  it('exports a run as JSON and CSV, a comparison as SVG, and a recipe trend', async () => {
    const json = await dispatch(ctx.studio.handlers, 'exportRun', { runId, format: 'json' });
    expect(RunDetailSchema.parse(JSON.parse(json.content)).id).toBe(runId);
    const csv = await dispatch(ctx.studio.handlers, 'exportRun', { runId, format: 'csv' });
    const lines = csv.content.trim().split('\n');
    expect(lines[0]).toMatch(/^run,recipe,status,verdict,case,prompt/);
    // baseline, graph-basic and dpm-fast x 2 cases
    expect(lines).toHaveLength(1 + 3 * 2);
    const svg = await dispatch(ctx.studio.handlers, 'exportComparison', {
      runA: runId,
      runB: runId,
    });
    expect(svg.content).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.content.match(/<rect /g)?.length).toBeGreaterThanOrEqual(1 + 3 * 2);
    const trend = await dispatch(ctx.studio.handlers, 'getTrend', { model, recipe: 'graph-basic' });
    expect(trend.map((t) => t.runId)).toContain(runId);
  });

  it('saves a recipe as the default profile, which generate then applies relative to its defaults', async () => {
    const saved = await dispatch(ctx.studio.handlers, 'saveProfile', { runId, recipe: 'dpm-fast' });
    expect(saved).toMatchObject({ recipe: 'dpm-fast', isDefault: true });
    const g = await dispatch(ctx.studio.handlers, 'generate', { model, prompt: 'x', seed: 1 });
    expect(g.scheduler).toBe('dpm++2m-karras');
    // 40% of the model's default 25 steps, as measured, not a step count of some test case.
    expect(g.steps).toBe(10);
    const detail = RunDetailSchema.parse(await dispatch(ctx.studio.handlers, 'getRun', { runId }));
    expect(detail.recipes.find((r) => r.name === 'dpm-fast')?.cases[0].steps).toBe(10);
    expect(g.warnings.join(' ')).toMatch(
      /profile ".*" applied \(recipe dpm-fast, measured \d+\.\d\dx \[\d+\.\d\d-\d+\.\d\d\] in run #\d+\)/,
    );
    await expect(
      dispatch(ctx.studio.handlers, 'generate', { model, profile: 'nope' }),
    ).rejects.toThrow(/no profile named "nope"/);
  });

  it('profiles one extra run per recipe and reports the top operators with the trace files', async () => {
    const r = await bench({
      recipes: ['graph-basic'],
      repeats: 1,
      warmup: 0,
      maxCases: 1,
      profileOps: true,
    });
    for (const recipe of r.recipes) {
      expect(recipe.topOps?.length).toBeGreaterThan(0);
      const unet = recipe.topOps?.find((op) => op.component === 'unet');
      expect(unet?.totalMs).toBeGreaterThan(0);
      expect(existsSync(unet?.traceFile as string)).toBe(true);
    }
    const detail = await dispatch(ctx.studio.handlers, 'getRun', { runId: r.runId });
    expect(detail.recipes[0].topOps?.length).toBeGreaterThan(0);
  });

  it('measures the throughput objective at batch 4, per image', async () => {
    const r = await bench({
      recipes: ['graph-basic'],
      repeats: 1,
      warmup: 0,
      maxCases: 1,
      objective: 'throughput',
    });
    expect(r.recipes.every((x) => x.status === 'ok')).toBe(true);
    const [entry] = await dispatch(ctx.studio.handlers, 'getHistory', { limit: 1 });
    expect(entry.summary).toMatch(/batch 4$/);
    // Same seed: image 0 of the batch starts from the same noise as a batch-1 run, so quality still compares.
    expect(r.recipes[1].ssim).toBeGreaterThan(0.99);
  });

  it('without recipes runs the wizard candidates for this machine, baseline first', async () => {
    const proposal = await dispatch(ctx.studio.handlers, 'proposeRecipes', {
      model,
      priority: 'speed',
    });
    expect(proposal.recipes[0].name).toBe('baseline');
    expect(proposal.recipes.length).toBeGreaterThanOrEqual(3);
    expect(proposal.recipes.length).toBeLessThanOrEqual(MAX_PROPOSED);
  });

  it('refuses unknown recipes and invalid test sets, naming the case and field', async () => {
    await expect(bench({ recipes: ['warp'] })).rejects.toThrow(/unknown recipe "warp"/);
    const file = join(ctx.home, 'cases.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'x',
        cases: [
          { prompt: 'a', steps: 2, guidance: 1, seed: 1 },
          { prompt: 'b', steps: 0, guidance: 1, seed: 1 },
        ],
      }),
    );
    await expect(bench({ recipes: ['graph-basic'], cases: file })).rejects.toThrow(
      /cases\.1\.steps/,
    );
    await expect(bench({ cases: join(ctx.home, 'missing.json') })).rejects.toThrow(
      /not default, shapes or a readable JSON file/,
    );
  });
});
