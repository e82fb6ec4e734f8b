import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchProgress, RecipeOutcome } from '../../shared/bench-schemas';
import type { ExecutionProvider } from '../../shared/schemas';
import { StudioError } from '../../shared/errors';
import { EngineClient } from '../engine/engine-client';
import type { PipelineRequest, PipelineResult } from '../engine/protocol';
import { GpuReader, PeakTracker } from '../hardware/live-sampler';
import { profileSampling } from '../profiles/profile';
import { findProfileFile, readProfileTrace } from './profile-trace';
import { recipeRunConfig, recipeSteps, type Recipe } from './recipes';
import { logHalfWidth } from './stats';
import type { TestCase, TestSet } from './test-sets';
import { prepareVariant } from './variants';

/**
 * Measure: runs one recipe on every test case in its own engine process and returns raw figures
 * (latencies, stage times, images, memory, start-up). It judges nothing and stores nothing.
 */

export interface MeasureSetup {
  jobId: string;
  /** LATENT_STUDIO_HOME: where the variant store keeps built variants. */
  home: string;
  model: { dir: string; family: string };
  /** `model`: every case at the model's default steps/guidance (what generate uses); `cases`: each case's own. */
  settings: 'model' | 'cases';
  /** The model's default steps: what step factors apply to under `model` settings. */
  defaultSteps: number;
  testSet: TestSet;
  repeats: number;
  /** Warm-up runs (not counted) for every new case shape (size, batch, guidance on/off). */
  warmup: number;
  ep: ExecutionProvider;
  physicalCores: number;
  /** Images per call; latencies are per image. */
  batch: number;
  imagesDir: string;
  profileOps: boolean;
  /**
   * Interleave: the baseline recipe, run in a second engine alternately with the candidate, case by
   * case and repeat by repeat (ABBA order), so a machine that slows down or speeds up during the run
   * affects both sides of each pair alike. Absent: the candidate runs alone.
   */
  reference?: Recipe;
  /**
   * Adaptive repeats (see `wantsMorePairs`): with a reference, after the configured repeats of a
   * case, more ABBA pairs while the recipe's paired interval is still wider than
   * ADAPTIVE_TARGET_HALF_WIDTH, within ADAPTIVE_MAX_FACTOR x the repeats and only while a pair is
   * cheap. Default: on for the CPU provider with a reference; never without a reference (there is
   * nothing to pair).
   */
  adaptive?: boolean;
  /** The pause when the turn passes between engines; default ENGINE_SWITCH_SETTLE_MS (tests: 0). */
  settleMs?: number;
  /**
   * After measuring, start a fresh engine and time its session creation once more: start-up with
   * warm caches (the OS file cache, and ORT's optimized-model cache where the recipe turns it on).
   */
  restartLoad?: boolean;
  /** Before any run: why the prepared variant (its bytes on disk) cannot fit here, or null. */
  fit?(modelBytes: number): string | null;
  isCancelled(): boolean;
  /** The engine process measuring now (undefined when it has stopped), for the live sampler. */
  onEngine?(pid: number | undefined): void;
  progress(
    caseIndex: number,
    phase: BenchProgress['phase'],
    extra?: { message: string; fraction: number },
  ): void;
}

export interface CaseRun {
  caseIndex: number;
  testCase: TestCase;
  steps: number;
  guidance: number;
  /** ms per image, one per measured repeat (adaptive repeats can make more than `repeats`). */
  latencies: number[];
  /** Mean ms per image per stage over the repeats. */
  stages: Record<string, number>;
  /** The last repeat's first image. */
  png: Uint8Array;
  /**
   * With a reference: the baseline's latencies measured alternately with these, one per repeat:
   * the i-th was measured right before or after the i-th of `latencies` (ABBA), so they pair.
   */
  referenceLatencies?: number[];
}

export interface RecipeRun {
  modelDir: string;
  peakRssMb: number;
  /** The engine's footprint before the model loaded (Node + ORT). */
  idleRssMb: number;
  peakGpuMb: number | null;
  cpuPercent: number;
  /** Session creation in the first run, ms. */
  loadMs: number;
  /** The first run end to end, session creation included, ms. */
  firstImageMs: number;
  /** With `restartLoad`: session creation in a second, fresh engine, ms. */
  restartLoadMs?: number;
  topOps?: NonNullable<RecipeOutcome['topOps']>;
  /**
   * How loaded the machine was: the 1-minute load average (os.loadavg) before the first case and
   * after the last, and the logical cores to read it against. It includes the bench's own engine.
   */
  loadAvg?: LoadAvg;
}

export interface LoadAvg {
  before: number;
  after: number;
  cores: number;
}

/** Ours: adaptive repeats stop once the recipe's 95% interval is within ±5% (log space). */
export const ADAPTIVE_TARGET_HALF_WIDTH = 0.05;
/** Ours: adaptive repeats give a case at most this many times the configured repeats. */
export const ADAPTIVE_MAX_FACTOR = 3;
/**
 * Ours: adaptive repeats only while a pair (candidate and baseline run, settle pauses included)
 * takes at most this long, so a model that needs a minute an image is not run for tripled time;
 * there, ask for more `--repeats` knowingly.
 */
export const ADAPTIVE_CHEAP_PAIR_MS = 20_000;

/**
 * Whether a case that has had its configured repeats should get one more ABBA pair: while the
 * recipe's paired 95% interval, as it will stand once the cases still to come have had their
 * configured repeats, is wider than ADAPTIVE_TARGET_HALF_WIDTH; never beyond ADAPTIVE_MAX_FACTOR x
 * `repeats` pairs in one case, nor when the last pair took more than ADAPTIVE_CHEAP_PAIR_MS.
 */
export function wantsMorePairs(p: {
  /** log(baseline / candidate) of every pair of the recipe so far, earlier cases included. */
  logs: readonly number[];
  /** Pairs the cases after this one will add anyway (their configured repeats). */
  planned: number;
  /** Pairs this case has had. */
  done: number;
  repeats: number;
  /** How long the last pair took, ms. */
  lastPairMs: number;
}): boolean {
  if (p.done < p.repeats) return true;
  if (p.done >= p.repeats * ADAPTIVE_MAX_FACTOR) return false;
  if (p.lastPairMs > ADAPTIVE_CHEAP_PAIR_MS) return false;
  return logHalfWidth(p.logs, p.planned) > ADAPTIVE_TARGET_HALF_WIDTH;
}

const STAGES = ['tokenize', 'textEncoder', 'unet', 'vae', 'ort', 'load'] as const;

/**
 * How long the bench lets the machine settle when the turn passes from one engine process to the
 * other. After a run, ONNX Runtime's idle pool threads keep spin-waiting: measured here, ~1 core
 * for 50-70 ms after a tiny-shapes image. Without a pause, whichever engine runs next shares the
 * CPU with the other's spinning threads, which penalises a candidate that spins less than the
 * baseline. A person's studio runs one engine, so each turn should start on a quiet machine.
 */
export const ENGINE_SWITCH_SETTLE_MS = 150;

/**
 * One repeat of a pair in ABBA order: `a` first on even repeats, `b` first on odd ones, so a linear
 * drift of the machine over the run cancels between the two sides.
 */
export async function inAbbaOrder(
  repeat: number,
  a: () => Promise<void>,
  b: () => Promise<void>,
): Promise<void> {
  if (repeat % 2 === 0) {
    await a();
    await b();
  } else {
    await b();
    await a();
  }
}

/** Turn-taking between engines: a pause whenever the next run is not on the engine that ran last. */
export function engineTurns(settleMs = ENGINE_SWITCH_SETTLE_MS) {
  let last: string | undefined;
  return async (engineTag: string): Promise<void> => {
    if (last !== undefined && last !== engineTag && settleMs > 0)
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    last = engineTag;
  };
}

const fewStep = (family: string): boolean => family === 'sd-turbo' || family === 'lcm';

/** The engine request for one case under one recipe. */
export function caseRequest(
  m: Pick<MeasureSetup, 'model' | 'settings' | 'defaultSteps' | 'batch' | 'ep' | 'physicalCores'>,
  recipe: Recipe,
  testCase: TestCase,
  modelDir: string,
): PipelineRequest {
  const shared = {
    modelDir,
    prompt: testCase.prompt,
    negativePrompt: testCase.negativePrompt,
    seed: testCase.seed,
    width: testCase.width,
    height: testCase.height,
    batch: m.batch,
    ep: m.ep,
    previewEvery: 0,
    runConfig: recipeRunConfig(recipe, m.physicalCores),
  };
  // `model`: exactly what generate does with a profile made from this recipe (one function).
  if (m.settings === 'model') return { ...shared, ...profileSampling(recipe, m.defaultSteps) };
  const few = fewStep(m.model.family);
  return {
    ...shared,
    // Distilled few-step models run at their own steps and guidance, not the case's 30-50 with CFG.
    steps: few ? recipe.sampling.steps : recipeSteps(recipe, testCase.steps),
    guidance: recipe.sampling.guidance ?? (few ? undefined : testCase.guidance),
    scheduler: recipe.sampling.scheduler,
    adaptiveSteps: recipe.sampling.adaptiveSteps,
    schedulerOverrides: recipe.sampling.schedulerOverrides,
    featureCache: recipe.sampling.featureCache,
    guidanceInterval: recipe.sampling.guidanceInterval,
  };
}

/** Bytes of every file under a folder: what a variant brings into memory at least. */
export function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    // statSync follows links: a Hugging Face cache snapshot is links to blobs.
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st) total += st.isDirectory() ? folderBytes(path) : st.size;
  }
  return total;
}

/**
 * Runs `recipe` on every case: warm-ups for each new case shape, then `repeats` measured runs
 * (with a reference, `repeats` ABBA pairs, and adaptive ones beyond: `wantsMorePairs`).
 * `onCase` sees each case as soon as it is measured (the caller judges and records it, so a killed
 * run keeps every finished case); an error it throws fails the recipe.
 */
export async function measureRecipe(
  m: MeasureSetup,
  recipe: Recipe,
  onCase: (run: CaseRun) => void | Promise<void>,
): Promise<RecipeRun> {
  m.progress(0, 'prepare');
  const modelDir = await prepareVariant(
    m.model.dir,
    recipe.variant,
    (p) => m.progress(0, 'prepare', { message: p.message, fraction: p.fraction }),
    m.home,
  );
  const tooBig = m.fit?.(folderBytes(modelDir)) ?? null;
  if (tooBig) throw new StudioError(tooBig, 'too-large');
  const engine = new EngineClient();
  const referenceEngine = m.reference ? new EngineClient() : undefined;
  // GPU memory is the device's, sampled while the recipe runs (null where no GPU reports it).
  const tracker = new PeakTracker({ pid: () => engine.pid, gpu: new GpuReader() });
  let tracking = false;
  // Only with a reference: without one there is nothing to pair.
  const adaptive = m.reference !== undefined && (m.adaptive ?? m.ep === 'cpu');
  /** log(baseline / candidate) of every pair so far (what the adaptive repeats watch). */
  const pairLogs: number[] = [];
  try {
    const loadBefore = loadavg()[0];
    const before = await engine.stats();
    m.onEngine?.(engine.pid);
    tracker.begin();
    tracking = true;
    const turn = engineTurns(m.settleMs);
    const candidate = engineRunner(engine, m, 'c', turn);
    const reference = referenceEngine && engineRunner(referenceEngine, m, 'r', turn);
    const warmed = new Set<string>();
    for (const [caseIndex, testCase] of m.testSet.cases.entries()) {
      const request = caseRequest(m, recipe, testCase, modelDir);
      const refRequest = m.reference && caseRequest(m, m.reference, testCase, m.model.dir);
      const shape = `${request.width ?? '-'}x${request.height ?? '-'}x${request.batch}:${request.guidance ?? 'default'}`;
      if (!warmed.has(shape)) {
        warmed.add(shape);
        for (let w = 0; w < m.warmup; w++) {
          m.progress(caseIndex, 'warmup');
          await candidate.run(request);
          if (reference && refRequest) await reference.run(refRequest);
        }
      }
      const latencies: number[] = [];
      const referenceLatencies: number[] = [];
      const stages: Record<string, number> = {};
      let last: PipelineResult | undefined;
      const planned = (m.testSet.cases.length - 1 - caseIndex) * m.repeats;
      let lastPairMs = 0;
      // The configured repeats, then (adaptive) more pairs while the interval is too wide.
      for (
        let r = 0;
        r < m.repeats ||
        (adaptive &&
          wantsMorePairs({ logs: pairLogs, planned, done: r, repeats: m.repeats, lastPairMs }));
        r++
      ) {
        m.progress(caseIndex, 'measure');
        let run: PipelineResult | undefined;
        let ref: PipelineResult | undefined;
        const t0 = performance.now();
        // Repeat r's candidate run and baseline run are adjacent (one right after the other, the
        // order alternating): they form pair r, latencies[r] with referenceLatencies[r].
        await inAbbaOrder(
          r,
          async () => {
            if (reference && refRequest) ref = await reference.run(refRequest);
          },
          async () => {
            run = await candidate.run(request);
          },
        );
        lastPairMs = performance.now() - t0;
        if (!run) throw new StudioError('no measured run', 'failed');
        last = run;
        const ms = last.timings.total / m.batch;
        latencies.push(ms);
        if (ref) {
          const refMs = ref.timings.total / m.batch;
          referenceLatencies.push(refMs);
          pairLogs.push(Math.log(refMs / ms));
        }
        for (const s of STAGES) stages[s] = (stages[s] ?? 0) + last.timings[s] / m.batch;
      }
      if (!last) throw new StudioError('no measured run', 'failed');
      for (const s of STAGES) stages[s] /= latencies.length;
      m.progress(caseIndex, 'quality');
      await onCase({
        caseIndex,
        testCase,
        steps: last.steps,
        guidance: last.guidance,
        latencies,
        stages,
        png: last.images[0].png,
        ...(reference ? { referenceLatencies } : {}),
      });
    }
    const loadAvg: LoadAvg = { before: loadBefore, after: loadavg()[0], cores: cpus().length };
    const after = await engine.stats();
    const window = await tracker.end();
    tracking = false;
    const topOps = m.profileOps ? await profileOnce(engine, m, recipe, modelDir) : undefined;
    const restartLoadMs = m.restartLoad
      ? await restartLoad(m, caseRequest(m, recipe, m.testSet.cases[0], modelDir))
      : undefined;
    // ORT's pool uses physical cores; SMT siblings would make every CPU look half idle.
    const cores = Math.max(1, m.physicalCores);
    return {
      modelDir,
      peakRssMb: after.maxRssMb,
      idleRssMb: before.rssMb,
      peakGpuMb: window.peakGpuMb,
      // The engine's CPU time over the time it was running (not the reference's turns).
      cpuPercent: Math.min(
        100,
        ((after.cpuMs - before.cpuMs) / Math.max(1, candidate.busyMs()) / cores) * 100,
      ),
      loadMs: candidate.first()?.loadMs ?? 0,
      firstImageMs: candidate.first()?.firstImageMs ?? 0,
      ...(restartLoadMs !== undefined ? { restartLoadMs } : {}),
      ...(topOps ? { topOps } : {}),
      loadAvg,
    };
  } catch (error) {
    // An engine killed for memory is a measured result: it does not fit, at the peak it reached.
    if (error instanceof StudioError && /out of memory/.test(error.message)) {
      const peak = tracking ? (await tracker.end()).peakRssMb : null;
      tracking = false;
      throw new StudioError(
        `${error.message}${peak !== null ? ` after reaching ${peak.toFixed(0)} MB` : ''}`,
        'too-large',
      );
    }
    throw error;
  } finally {
    if (tracking) await tracker.end(); // a failed recipe must not leave its sampler running
    m.onEngine?.(undefined);
    await Promise.all([engine.close(), referenceEngine?.close()]);
  }
}

/** Session creation in a fresh engine process (one unmeasured generation). */
async function restartLoad(m: MeasureSetup, request: PipelineRequest): Promise<number> {
  const fresh = new EngineClient();
  try {
    const result = await engineRunner(fresh, m, 's').run(request);
    return result.timings.load;
  } finally {
    await fresh.close();
  }
}

/** Runs requests on one engine: cancellable, timed, provider-checked; remembers the first run. */
function engineRunner(
  engine: EngineClient,
  m: MeasureSetup,
  tag: string,
  turn?: (engineTag: string) => Promise<void>,
) {
  let runs = 0;
  let busyMs = 0;
  let first: { loadMs: number; firstImageMs: number } | undefined;
  const run = async (request: PipelineRequest): Promise<PipelineResult> => {
    if (m.isCancelled()) throw new StudioError('benchmark cancelled', 'cancelled');
    await turn?.(tag);
    const id = `${m.jobId}-${tag}${runs++}`;
    const t0 = performance.now();
    // A cancel reaches the engine between denoising steps, not only between cases.
    const result = await engine.run(id, request, () => {
      if (m.isCancelled()) engine.cancel(id);
    });
    busyMs += performance.now() - t0;
    first ??= { loadMs: result.timings.load, firstImageMs: result.timings.total };
    const elsewhere = Object.entries(result.providers).filter(([, p]) => p !== m.ep);
    if (elsewhere.length > 0) {
      throw new StudioError(
        `${elsewhere.map(([c, p]) => `${c} ran on ${p}`).join(', ')} instead of ${m.ep}: the ${m.ep} provider failed to load, so this would not measure ${m.ep}`,
        'failed',
      );
    }
    return result;
  };
  return { run, busyMs: () => busyMs, first: () => first };
}

/**
 * One extra, unmeasured generation of the first case with ORT profiling on; the traces are kept
 * beside the recipe's images (open them in chrome://tracing or Perfetto) and summarised here.
 */
async function profileOnce(
  engine: EngineClient,
  m: MeasureSetup,
  recipe: Recipe,
  modelDir: string,
): Promise<NonNullable<RecipeOutcome['topOps']>> {
  m.progress(0, 'profile');
  const request = caseRequest(m, recipe, m.testSet.cases[0], modelDir);
  const profileDir = join(m.imagesDir, recipe.name, 'traces');
  mkdirSync(profileDir, { recursive: true });
  await engine.run(
    `${m.jobId}-profile`,
    { ...request, runConfig: { ...request.runConfig, enableProfiling: true, profileDir } },
    () => {},
  );
  const ops: NonNullable<RecipeOutcome['topOps']> = [];
  for (const component of ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder']) {
    const file = await findProfileFile(join(profileDir, component));
    if (!file) continue;
    const summary = await readProfileTrace(file, { top: 8 });
    for (const op of summary.byOpType) {
      const { opType, count, totalMs, percent } = op;
      ops.push({ component, opType, count, totalMs, percent, traceFile: file });
    }
  }
  return ops.sort((a, b) => b.totalMs - a.totalMs).slice(0, 15);
}
