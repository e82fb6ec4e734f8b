import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, type Db } from '../store/database';
import { RunsRepo } from '../store/runs-repo';
import { BenchRepo } from '../store/bench-repo';
import { findRecipe } from '../bench/recipes';
import { tempHome } from '../../../test/helpers/temp-home';
import { describeRecipeChanges, LibraryService } from './library-service';
import { ListImagesRequestSchema } from '../../shared/library-schemas';

let home: ReturnType<typeof tempHome>;
let db: Db;
let runs: RunsRepo;
let bench: BenchRepo;
let library: LibraryService;

const png = (path: string): string => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'png');
  return path;
};

const newRun = (kind: 'generate' | 'bench', model = 'tiny-shapes'): number =>
  runs.start({ kind, model, summary: `${kind} run`, params: {}, appVersion: '0', ortVersion: '0' });

/** A finished benchmark: the baseline and one candidate, two cases each, with images on disk. */
function benchRun(candidate = 'dpm-fast'): number {
  const runId = newRun('bench');
  const dir = join(home.dir, 'images', `bench-${runId}`);
  for (const [position, name] of [
    [0, 'baseline'],
    [1, candidate],
  ] as const) {
    const r = findRecipe(name);
    const id = bench.startRecipe(runId, position, r, r);
    for (const caseIndex of [0, 1]) {
      bench.addCase(id, {
        caseIndex,
        prompt: `prompt ${caseIndex}`,
        seed: 7 + caseIndex,
        steps: 10,
        guidance: 5,
        latencies: [100],
        latencyMean: position === 0 ? 100 : 50,
        latencyStd: 0,
        latencyMedian: 100,
        stages: {},
        imagePath: png(join(dir, name, `case-${caseIndex}.png`)),
        heatmapPath: position === 0 ? null : png(join(dir, name, `case-${caseIndex}-diff.png`)),
        ssim: position === 0 ? null : 0.9,
        psnr: position === 0 ? null : 30,
      });
    }
    bench.finishRecipe(id, {
      latencyMean: position === 0 ? 100 : 50,
      latencyStd: 0,
      latencyMedian: 100,
      stages: {},
      peakRssMb: null,
      peakGpuMb: null,
      cpuPercent: null,
      ssim: null,
      psnr: null,
      speedup: position === 0 ? 1 : 2,
      verdict: position === 0 ? 'baseline' : 'faster',
    });
  }
  runs.finish(runId, { recommended: candidate }, []);
  return runId;
}

function generateRun(): number {
  const runId = newRun('generate');
  const images = [0, 1].map((i) => ({
    path: png(join(home.dir, 'images', `run-${runId}-${i}.png`)),
    width: 64,
    height: 64,
    seed: 3 + i,
  }));
  runs.finish(runId, {}, images);
  return runId;
}

const list = (input: Record<string, unknown> = {}) =>
  library.images(ListImagesRequestSchema.parse(input));

beforeEach(() => {
  home = tempHome();
  db = openDatabase(join(home.dir, 'studio.db'));
  runs = new RunsRepo(db);
  bench = new BenchRepo(db);
  library = new LibraryService({ home: home.dir, db, modelDir: () => undefined });
});
afterEach(() => {
  db.close();
  home.cleanup();
});

describe('library: the gallery', () => {
  it('lists generated images and benchmark cases, each case beside the baseline of the same case', () => {
    const g = generateRun();
    const b = benchRun();
    const { images, facets, thresholds } = list();
    expect(images.filter((i) => i.kind === 'generate').map((i) => i.seed)).toEqual([3, 4]);
    const cases = images.filter((i) => i.kind === 'bench');
    expect(cases).toHaveLength(4);
    const candidate = cases.find((i) => i.recipe === 'dpm-fast' && i.caseIndex === 1);
    expect(candidate?.baselinePath).toBe(
      join(home.dir, 'images', `bench-${b}`, 'baseline', 'case-1.png'),
    );
    expect(candidate?.baselineRecipe).toBe('baseline');
    expect(candidate?.heatmapPath).toMatch(/case-1-diff\.png$/);
    expect(candidate?.ssim).toBe(0.9);
    // The baseline itself has no pair.
    expect(cases.find((i) => i.recipe === 'baseline')?.baselinePath).toBeNull();
    // Newest run first.
    expect(images[0].runId).toBe(b);
    expect(facets.runs).toEqual([
      { id: b, kind: 'bench' },
      { id: g, kind: 'generate' },
    ]);
    expect(facets.recipes).toEqual(['baseline', 'dpm-fast']);
    expect(facets.cases).toEqual([0, 1]);
    expect(thresholds.ssimAcceptable).toBeGreaterThan(thresholds.ssimOverOptimized);
  });

  it('filters by kind, run, recipe, case and model, and keeps the facets of the whole library', () => {
    const g = generateRun();
    const b1 = benchRun();
    benchRun('threads-physical');
    expect(list({ kind: 'generate' }).images.every((i) => i.runId === g)).toBe(true);
    expect(list({ runId: b1 }).images).toHaveLength(4);
    const one = list({ runId: b1, recipe: 'dpm-fast', caseIndex: 0 });
    expect(one.images.map((i) => i.id)).toEqual([`b${b1}-dpm-fast-0`]);
    expect(one.facets.recipes).toEqual(['baseline', 'dpm-fast', 'threads-physical']);
    expect(list({ model: 'another' }).images).toEqual([]);
    expect(list({ limit: 3 }).images).toHaveLength(3);
  });
});

describe('library: deleting a run', () => {
  it('removes the run, its figures and its image files, and leaves other runs alone', () => {
    const keep = benchRun();
    const b = benchRun();
    const g = generateRun();
    const benchDir = join(home.dir, 'images', `bench-${b}`);
    expect(existsSync(benchDir)).toBe(true);
    expect(library.deleteRun(b)).toEqual({ deleted: true, imagesRemoved: 6 });
    expect(existsSync(benchDir)).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM recipe_results WHERE run_id = ?').get(b)).toEqual({
      n: 0,
    });
    expect(list().facets.runs.map((r) => r.id)).toEqual([g, keep]);
    expect(library.deleteRun(g)).toEqual({ deleted: true, imagesRemoved: 2 });
    expect(existsSync(join(home.dir, 'images', `run-${g}-0.png`))).toBe(false);
    expect(list().images.every((i) => i.runId === keep)).toBe(true);
    expect(library.deleteRun(g)).toEqual({ deleted: false, imagesRemoved: 0 });
  });

  it('refuses a running run and never removes files outside the images folder', () => {
    const running = newRun('generate');
    expect(() => library.deleteRun(running)).toThrow(/still running; cancel it/);
    const g = newRun('generate');
    const outside = png(join(home.dir, 'elsewhere.png'));
    runs.finish(g, {}, [{ path: outside, width: 8, height: 8, seed: 1 }]);
    expect(library.deleteRun(g)).toEqual({ deleted: true, imagesRemoved: 0 });
    expect(existsSync(outside)).toBe(true);
  });
});

describe('library: profiles', () => {
  it('previews what saving a run’s recommendation changes, then lists the saved profile', () => {
    const b = benchRun();
    const preview = library.previewProfile(b);
    expect(preview.recipe).toBe('dpm-fast');
    expect(preview.replaces).toBeNull();
    expect(preview.changes.join('; ')).toMatch(/scheduler: dpm\+\+2m/);
    bench.saveProfile({
      name: 'fast',
      model: 'tiny-shapes',
      recipeJson: JSON.stringify(findRecipe('dpm-fast')),
      sourceRunId: b,
      makeDefault: true,
    });
    expect(library.previewProfile(b).replaces).toBe('fast');
    const [p] = library.profiles('tiny-shapes');
    expect(p).toMatchObject({ name: 'fast', recipe: 'dpm-fast', isDefault: true, sourceRunId: b });
    expect(library.profiles('other')).toEqual([]);
    expect(() => library.previewProfile(b, 'threads-physical')).toThrow(/did not complete/);
  });

  it('says what a recipe changes in plain words, against the model’s own steps', () => {
    expect(describeRecipeChanges(findRecipe('baseline'), 20, null)).toEqual([
      "nothing in the model's settings (the baseline)",
    ]);
    const threads = describeRecipeChanges(findRecipe('threads-physical'), 20, 'cpu');
    expect(threads).toEqual(['intra-op threads: one per physical core', 'provider: cpu']);
    const fast = findRecipe('dpm-fast');
    const factor = fast.sampling.stepsFactor;
    expect(factor).toBeDefined();
    expect(describeRecipeChanges(fast, 20, null)).toContain(
      `steps: 20 → ${Math.ceil(20 * (factor ?? 1))}`,
    );
  });
});
