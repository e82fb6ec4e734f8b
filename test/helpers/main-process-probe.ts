/**
 * Run as its own process (`node --import tsx test/helpers/main-process-probe.ts`) by
 * test/integration/main-process-native.test.ts: the studio's services as the Electron main process
 * holds them (workers started through the utilityProcess stand-in), a generation, a benchmark
 * with a quality comparison, an optimization and the hardware probes. Every native addon the
 * process loads is recorded from the first line on; the last stdout line is a JSON report.
 */
const loaded: string[] = [];
const dlopen = process.dlopen.bind(process);
process.dlopen = ((module: unknown, filename: string, ...rest: unknown[]) => {
  loaded.push(filename);
  return (dlopen as (...a: unknown[]) => unknown)(module, filename, ...rest);
}) as typeof process.dlopen;

const { mkdtempSync, rmSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { utilityProcessStandIn } = await import('./utility-process-standin');
const { useUtilityProcess } = await import('../../src/main/workers/worker-process');
const { createStudio } = await import('../../src/main/services/studio');
const { dispatch } = await import('../../src/main/services/dispatch');

const home = mkdtempSync(join(tmpdir(), 'latent-studio-main-probe-'));
const utility = utilityProcessStandIn();
useUtilityProcess(utility);
const studio = createStudio({ home });
try {
  const generated = await dispatch(studio.handlers, 'generate', {
    prompt: 'a red circle',
    steps: 2,
    seed: 1,
  });
  const bench = await dispatch(studio.handlers, 'runBenchmark', {
    recipes: ['baseline', 'graph-basic'],
    repeats: 1,
    warmup: 0,
    maxCases: 1,
    stack: false,
    interleave: false,
    ep: 'cpu',
  });
  const optimized = await dispatch(studio.handlers, 'optimizeModel', {
    recipe: 'graph-all',
    out: join(home, 'models', 'probe-graph-all'),
  });
  const hardware = await dispatch(studio.handlers, 'getHardware', { refresh: true });
  console.log(
    JSON.stringify({
      loaded,
      workers: utility.calls.map((c) => c.modulePath.replace(/^.*\/|\.(ts|js)$/g, '')),
      images: generated.images.length,
      benchRecipes: bench.recipes.map((r) => ({ name: r.name, status: r.status, ssim: r.ssim })),
      optimized: optimized.components.length,
      cpuWorks: hardware.providers.find((p) => p.name === 'cpu')?.works ?? false,
    }),
  );
} finally {
  await studio.close();
  rmSync(home, { recursive: true, force: true });
}
process.exit(0);
export {};
