import { readModelInfo } from '../../src/main/engine/model-loader';
import { ModelSessions } from '../../src/main/engine/model-sessions';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { runPipeline } from '../../src/main/engine/pipeline';
import { arg, benchRequest, quietHooks, stats } from './bench-util';

/** One residency mode in a fresh process, so its peak RSS is its own. Prints one JSON line. */
const mode = arg('mode', 'resident') as 'resident' | 'sequential';
const dir = arg('model', '');
const steps = Number(arg('steps', '20'));
const repeats = Number(arg('repeats', '5'));
const info = await readModelInfo(dir);
const sessions = new ModelSessions(info, { ...DEFAULT_RUN_CONFIG, residency: mode });
const req = benchRequest(dir, steps, 7.5);
const hooks = quietHooks;
await runPipeline(sessions, req, hooks); // warm-up
const latencies: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  await runPipeline(sessions, req, hooks);
  latencies.push(performance.now() - start);
}
const peakRssMb = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ mode, latency: stats(latencies), peakRssMb }));
