/**
 * `npm run bench:reliability`: the figures in docs/reliability.md.
 * 1. Engine: N benchmarks (tiny-shapes, baseline + graph-basic, 2 cases, 2 repeats) in one studio
 *    process; in each, the engine worker is SIGKILLed at a random moment. The studio must stay up,
 *    the killed recipe (or the run) must be marked failed with the reason, `PRAGMA
 *    integrity_check` must say ok, and every case recorded as finished must be intact (its row
 *    complete, its PNG decodable).
 * 2. Optimizer: M optimizations (tiny-shapes, int8) with the worker SIGKILLed at a random moment:
 *    the call fails with the reason, no variant folder, partial folder or model entry is left, and
 *    the same call run again succeeds.
 * 3. Fuzz: every StudioApi method through the web host (fast-check, loopback only).
 * Bounded and local: temporary studio homes, 127.0.0.1, fixed trial counts. Flags: --engine N,
 * --optimize M, --fuzz RUNS_PER_METHOD, --seed S, --json (one JSON object as the last line).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { createStudio, type Studio } from '../../src/main/services/studio';
import { dispatch } from '../../src/main/services/dispatch';
import { startWebHost } from '../../src/main/web-host';
import { observeWorkers, type WorkerProcess } from '../../src/main/workers/worker-process';
import { partialDir } from '../../src/main/optimize/variant-files';
import { fuzzWebHost, stubHeavy } from '../../test/helpers/api-fuzz';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ENGINE_TRIALS = arg('engine', 20);
const OPTIMIZE_TRIALS = arg('optimize', 10);
const FUZZ_RUNS = arg('fuzz', 100);
let seed = arg('seed', 20261130);
const asJson = process.argv.includes('--json');

/** A small seeded generator (mulberry32), so a run can be repeated. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const log = (line: string): void => {
  if (!asJson) console.log(line);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Live workers by name, as the studio starts them, and whether each is busy with a request. */
const live = new Map<string, Set<WorkerProcess>>();
const busy = new Map<WorkerProcess, Set<string>>();
observeWorkers((name, worker) => {
  const set = live.get(name) ?? new Set<WorkerProcess>();
  set.add(worker);
  live.set(name, set);
  worker.onExit(() => set.delete(worker));
  // The engine's requests carry ids: busy from a 'generate' until its result or error. The
  // optimizer does one job per process, so it is busy as long as it lives.
  const inFlight = new Set<string>(name === 'engine-worker' ? [] : ['job']);
  busy.set(worker, inFlight);
  const send = worker.send.bind(worker);
  worker.send = (message) => {
    const m = message as { type?: string; id?: string };
    if (m.type === 'generate' && m.id) inFlight.add(m.id);
    return send(message);
  };
  worker.onMessage((message) => {
    const m = message as { type?: string; id?: string };
    if ((m.type === 'result' || m.type === 'error') && m.id) inFlight.delete(m.id);
  });
});

/**
 * Waits `delayMs`, then SIGKILLs the first worker of that name that is in the middle of a request
 * (waiting for one if needed; none before `until` settles: the kill missed).
 */
async function killAt(name: string, delayMs: number, until: Promise<unknown>): Promise<boolean> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => {});
  await sleep(delayMs);
  while (!done) {
    const worker = [...(live.get(name) ?? [])].find(
      (w) => w.alive && w.pid !== undefined && (busy.get(w)?.size ?? 0) > 0,
    );
    if (worker?.pid) {
      process.kill(worker.pid, 'SIGKILL');
      return true;
    }
    await sleep(20);
  }
  return false;
}

function pngIntact(path: string | null): boolean {
  if (!path || !existsSync(path)) return false;
  try {
    const png = PNG.sync.read(readFileSync(path));
    return png.width > 0 && png.height > 0;
  } catch {
    return false;
  }
}

interface EngineTrial {
  delayMs: number;
  killed: boolean;
  runStatus: string;
  failedRecipes: { recipe: string; error: string }[];
  reasonRecorded: boolean;
  integrity: string;
  finishedCases: number;
  intactCases: number;
  studioUp: boolean;
}

const benchRequest = (jobId: string) => ({
  recipes: ['baseline', 'graph-basic'],
  repeats: 2,
  warmup: 0,
  maxCases: 2,
  stack: false,
  interleave: false,
  ep: 'cpu' as const,
  jobId,
});

async function engineTrials(studio: Studio): Promise<{ trials: EngineTrial[]; benchMs: number }> {
  // Two runs without a kill first (the first also builds the variant and probes the hardware):
  // the second's length sets the window the kills are spread over.
  await dispatch(studio.handlers, 'runBenchmark', benchRequest('reliability-warm-up'));
  const t0 = performance.now();
  await dispatch(studio.handlers, 'runBenchmark', benchRequest('reliability-calibration'));
  const benchMs = performance.now() - t0;
  log(`calibration: one benchmark takes ${Math.round(benchMs)} ms here`);
  const trials: EngineTrial[] = [];
  // ENGINE_TRIALS kills that land (a kill after the run ended is retried), at most twice as many runs.
  for (
    let i = 0;
    trials.filter((t) => t.killed).length < ENGINE_TRIALS && i < 2 * ENGINE_TRIALS;
    i++
  ) {
    // Uniform over the run: start-up, the baseline, quality, the candidate.
    const delayMs = Math.round(benchMs * (0.02 + random() * 0.9));
    const bench = dispatch(studio.handlers, 'runBenchmark', benchRequest(`reliability-${i}`));
    const killed = await killAt('engine-worker', delayMs, bench);
    const outcome = await bench.then(
      (r) => ({ runId: r.runId, error: null as string | null }),
      (e: unknown) => ({ runId: null, error: e instanceof Error ? e.message : String(e) }),
    );
    const db = studio.db;
    const run = db
      .prepare(`SELECT id, status, error FROM runs WHERE kind = 'bench' ORDER BY id DESC LIMIT 1`)
      .get() as { id: number; status: string; error: string | null };
    const recipes = db
      .prepare(`SELECT id, recipe, status, error FROM recipe_results WHERE run_id = ?`)
      .all(run.id) as { id: number; recipe: string; status: string; error: string | null }[];
    const failedRecipes = recipes
      .filter((r) => r.status !== 'ok')
      .map((r) => ({ recipe: r.recipe, error: r.error ?? '' }));
    const reasons = [...failedRecipes.map((r) => r.error), run.error ?? '', outcome.error ?? ''];
    const reasonRecorded =
      !killed || reasons.some((e) => /killed \(SIGKILL|process was killed/.test(e));
    const cases = db
      .prepare(
        `SELECT c.image_path AS image, c.latency_mean AS mean FROM case_results c
         JOIN recipe_results r ON r.id = c.recipe_result_id WHERE r.run_id = ?`,
      )
      .all(run.id) as { image: string | null; mean: number | null }[];
    const intact = cases.filter((c) => c.mean !== null && c.mean > 0 && pngIntact(c.image));
    const integrity = (db.pragma('integrity_check', { simple: true }) as string) ?? '';
    const history = await dispatch(studio.handlers, 'getHistory', { limit: 1 });
    const trial: EngineTrial = {
      delayMs,
      killed,
      runStatus: run.status,
      failedRecipes,
      reasonRecorded,
      integrity,
      finishedCases: cases.length,
      intactCases: intact.length,
      studioUp: history.length === 1,
    };
    trials.push(trial);
    log(
      `engine #${i + 1}: kill at ${delayMs} ms ${killed ? 'landed' : 'missed (run already over)'}; run ${run.status}; failed ${failedRecipes.map((r) => r.recipe).join(',') || '-'}; reason ${reasonRecorded ? 'recorded' : 'MISSING'}; integrity ${integrity}; cases intact ${intact.length}/${cases.length}`,
    );
  }
  return { trials, benchMs };
}

interface OptimizeTrial {
  delayMs: number;
  killed: boolean;
  error: string | null;
  leftovers: string[];
  registered: boolean;
  rerunOk: boolean;
}

async function optimizeTrials(studio: Studio): Promise<OptimizeTrial[]> {
  const trials: OptimizeTrial[] = [];
  for (
    let i = 0;
    trials.filter((t) => t.killed).length < OPTIMIZE_TRIALS && i < 2 * OPTIMIZE_TRIALS;
    i++
  ) {
    const out = join(studio.home, 'models', `reliability-int8-${i}`);
    const delayMs = Math.round(100 + random() * 2400);
    const job = dispatch(studio.handlers, 'optimizeModel', { recipe: 'int8', out });
    const killed = await killAt('optimize-worker', delayMs, job);
    const first = await job.then(
      () => null,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    const leftovers = [out, partialDir(out)].filter((p) => existsSync(p));
    const models = await dispatch(studio.handlers, 'listModels', {});
    const registered = models.some((m) => m.path === out);
    // Killed: nothing may be left. Not killed (the build finished first): the variant is whole.
    const clean = killed ? leftovers.length === 0 && !registered : first === null;
    let rerunOk = false;
    try {
      const again = await dispatch(studio.handlers, 'optimizeModel', {
        recipe: 'int8',
        out,
        force: true,
      });
      rerunOk = existsSync(join(again.outDir, 'latent-studio.json'));
    } catch {
      rerunOk = false;
    }
    rmSync(out, { recursive: true, force: true });
    trials.push({ delayMs, killed, error: first, leftovers, registered, rerunOk });
    log(
      `optimize #${i + 1}: kill at ${delayMs} ms ${killed ? 'landed' : 'missed'}; ${first ? `failed: ${first.slice(0, 90)}` : 'finished'}; ${clean ? 'nothing half-written' : `LEFT ${leftovers.join(', ')}`}; re-run ${rerunOk ? 'ok' : 'FAILED'}`,
    );
  }
  return trials;
}

async function fuzz(studio: Studio): Promise<Awaited<ReturnType<typeof fuzzWebHost>>> {
  const rendererDir = join(studio.home, 'renderer');
  mkdirSync(rendererDir, { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  const host = await startWebHost({
    studio: { ...studio, handlers: stubHeavy(studio.handlers) },
    rendererDir,
    port: 0,
    allowedFolders: [join(studio.home, 'allowed')],
  });
  try {
    return await fuzzWebHost(`http://127.0.0.1:${host.port}`, host.token, FUZZ_RUNS, seed);
  } finally {
    await host.close();
  }
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'latent-studio-reliability-'));
  process.env.LATENT_STUDIO_HOME = home;
  const studio = createStudio({ home });
  const started = performance.now();
  try {
    const { trials: engine, benchMs } = await engineTrials(studio);
    const optimize = await optimizeTrials(studio);
    const fuzzed = await fuzz(studio);
    const landed = engine.filter((t) => t.killed);
    const optLanded = optimize.filter((t) => t.killed);
    const summary = {
      engine: {
        trials: engine.length,
        benchMs: Math.round(benchMs),
        killedRecipes: Object.fromEntries(
          ['baseline', 'graph-basic'].map((r) => [
            r,
            landed.filter((t) => t.failedRecipes.some((f) => f.recipe === r)).length,
          ]),
        ),
        killsLanded: landed.length,
        studioStayedUp: engine.every((t) => t.studioUp),
        reasonRecorded: landed.filter((t) => t.reasonRecorded).length,
        runStatuses: Object.fromEntries(
          [...new Set(engine.map((t) => t.runStatus))].map((s) => [
            s,
            engine.filter((t) => t.runStatus === s).length,
          ]),
        ),
        integrityOk: engine.filter((t) => t.integrity === 'ok').length,
        finishedCases: engine.reduce((n, t) => n + t.finishedCases, 0),
        intactCases: engine.reduce((n, t) => n + t.intactCases, 0),
        stillRunning: engine.filter((t) => t.runStatus === 'running').length,
      },
      optimize: {
        trials: optimize.length,
        killsLanded: optLanded.length,
        failedWithReason: optLanded.filter((t) => t.error && /killed/.test(t.error)).length,
        leftovers: optLanded.reduce((n, t) => n + t.leftovers.length, 0),
        registeredFromPartial: optLanded.filter((t) => t.registered).length,
        rerunOk: optimize.filter((t) => t.rerunOk).length,
      },
      fuzz: {
        runsPerMethod: FUZZ_RUNS,
        requests: fuzzed.requests,
        byStatus: fuzzed.byStatus,
        crashes: fuzzed.crashes.length,
        unnamedRejections: fuzzed.unnamed.length,
        examples: [...fuzzed.crashes, ...fuzzed.unnamed].slice(0, 5),
      },
      seconds: Math.round((performance.now() - started) / 1000),
    };
    if (asJson) console.log(JSON.stringify(summary));
    else console.log(JSON.stringify(summary, null, 2));
    const ok =
      summary.engine.studioStayedUp &&
      summary.engine.reasonRecorded === summary.engine.killsLanded &&
      summary.engine.integrityOk === engine.length &&
      summary.engine.intactCases === summary.engine.finishedCases &&
      summary.engine.stillRunning === 0 &&
      summary.optimize.failedWithReason === summary.optimize.killsLanded &&
      summary.optimize.leftovers === 0 &&
      summary.optimize.registeredFromPartial === 0 &&
      summary.optimize.rerunOk === optimize.length &&
      summary.engine.killsLanded === ENGINE_TRIALS &&
      summary.optimize.killsLanded === OPTIMIZE_TRIALS &&
      summary.fuzz.crashes === 0 &&
      summary.fuzz.unnamedRejections === 0;
    process.exitCode = ok ? 0 : 1;
  } finally {
    await studio.close();
    rmSync(home, { recursive: true, force: true });
  }
}

void main();
