import * as ort from 'onnxruntime-node';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ComponentSession } from '../../src/main/engine/component-session';
import { readModelInfo } from '../../src/main/engine/model-loader';
import { createNoise } from '../../src/main/engine/noise';
import { DEFAULT_RUN_CONFIG } from '../../src/main/engine/run-config';
import { decodeLatents } from '../../src/main/engine/vae-decode';
import { arg, cpuFlags, stats, table } from './bench-util';

/**
 * `tsx tools/bench/tiny-vae-bench.ts --sd DIR --taesd DIR [--latent 64] [--rounds 3] [--memory]`
 *
 * The VAE decode of the tiny-vae recipe against the model's own: the SD VAE decoder of `--sd` (a
 * model folder) and a TAESD decoder (`--taesd`: a folder with vae_decoder/, e.g. one forged by
 * `tools/model-forge/taesd_random.py --full`), both resident in one process with the engine's own
 * session settings (DEFAULT_RUN_CONFIG: graph level all, the VAE's threads sleeping after a run)
 * and its decode (`decodeLatents`, the output range mapped), on the same seeded latents (the SD
 * side divided by its scaling factor, as the pipeline does), one warm-up each, then called in turn
 * round after round (SD first in rounds 1, 3, ..., TAESD first in rounds 2, 4, ...) so drift hits both alike.
 * `--memory` also decodes once in a fresh child process per decoder and reports its peak RSS
 * (the child's own maxRSS: Node, ORT, the session and one decode).
 */
const sdDir = arg('sd', '/work/sd15-random');
const taesdDir = arg('taesd', '');
const latent = Number(arg('latent', '64'));
const rounds = Number(arg('rounds', '3'));
const only = arg('only', '');

async function decoder(dir: string) {
  const info = await readModelInfo(dir).catch(() => undefined);
  const t0 = performance.now();
  const session = await ComponentSession.load(dir, 'vae_decoder', DEFAULT_RUN_CONFIG);
  return { session, loadMs: performance.now() - t0, info };
}

const dims: [number, number, number, number] = [1, 4, latent, latent];
const z = createNoise(1, 0).normal(4 * latent * latent);

/** One decode as the pipeline does it: latents divided by the scaling factor, range mapped. */
async function decode(
  s: ComponentSession,
  scaling: number,
  range: readonly [number, number],
): Promise<number> {
  const scaled = z.map((v) => v / scaling);
  const t0 = performance.now();
  const pixels = await decodeLatents(s, scaled, dims, {
    slicing: false,
    tiling: false,
    outputRange: range,
  });
  const ms = performance.now() - t0;
  if (pixels.length !== 3 * 64 * latent * latent) throw new Error('wrong output size');
  return ms;
}

/** The TAESD decoder's scaling factor and output range, from its own config.json. */
const taesdRange = (): { scaling: number; range: readonly [number, number] } => {
  const c = JSON.parse(readFileSync(`${taesdDir}/vae_decoder/config.json`, 'utf8')) as {
    scaling_factor?: number;
    output_range?: [number, number];
  };
  return { scaling: c.scaling_factor ?? 1, range: c.output_range ?? [-1, 1] };
};

if (only) {
  // A child of --memory: one decoder, one decode, then its peak RSS.
  const d = await decoder(only === 'sd' ? sdDir : taesdDir);
  const t = only === 'sd' ? undefined : taesdRange();
  await decode(
    d.session,
    only === 'sd' ? (d.info?.vaeScalingFactor ?? 0.18215) : (t?.scaling ?? 1),
    only === 'sd' ? [-1, 1] : (t?.range ?? [0, 1]),
  );
  process.send?.({ maxRssMb: process.resourceUsage().maxRSS / 1024 });
  process.exit(0);
}

if (!taesdDir) throw new Error('--taesd DIR is needed (a folder with vae_decoder/)');
console.log(
  `# VAE decode: SD VAE decoder vs TAESD — latent ${latent}x${latent} (${latent * 8}x${latent * 8} px), batch 1, CPU, ${rounds} rounds`,
);
console.log(
  `${cpus()[0]?.model ?? 'cpu'} x${cpus().length} (${cpuFlags()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ORT ${ort.env.versions.common}, ${new Date().toISOString()}`,
);
console.log(`SD: ${sdDir}/vae_decoder; TAESD: ${taesdDir}/vae_decoder\n`);
const sd = await decoder(sdDir);
const sdScaling = sd.info?.vaeScalingFactor ?? 0.18215;
const tiny = await decoder(taesdDir);
const t = taesdRange();
const runSd = () => decode(sd.session, sdScaling, [-1, 1]);
const runTiny = () => decode(tiny.session, t.scaling, t.range);
const warm = { sd: await runSd(), tiny: await runTiny() };
const times = { sd: [] as number[], tiny: [] as number[] };
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    times.sd.push(await runSd());
    times.tiny.push(await runTiny());
  } else {
    times.tiny.push(await runTiny());
    times.sd.push(await runSd());
  }
  console.log(
    `round ${r + 1}: SD ${times.sd[r].toFixed(0)} ms, TAESD ${times.tiny[r].toFixed(0)} ms`,
  );
}
const memory: Record<string, string> = { sd: '-', tiny: '-' };
if (process.argv.includes('--memory')) {
  await sd.session.release();
  await tiny.session.release();
  for (const which of ['sd', 'tiny'] as const) {
    const child = fork(fileURLToPath(import.meta.url), [
      ...process.argv.slice(2),
      '--only',
      which === 'sd' ? 'sd' : 'taesd',
    ]);
    const mb = await new Promise<number>((done, fail) => {
      child.on('message', (m) => done((m as { maxRssMb: number }).maxRssMb));
      child.on('exit', (code) => code !== 0 && fail(new Error(`child exited ${code}`)));
    });
    memory[which] = `${mb.toFixed(0)} MB`;
  }
}
const s = { sd: stats(times.sd), tiny: stats(times.tiny) };
console.log(
  `\n${table(
    [
      'decoder',
      'load ms',
      'warm-up ms',
      'median ms',
      'mean ms',
      'std ms',
      'min–max ms',
      'peak RSS (child)',
    ],
    (['sd', 'tiny'] as const).map((k) => [
      k === 'sd' ? 'SD VAE decoder' : 'TAESD decoder',
      (k === 'sd' ? sd : tiny).loadMs,
      warm[k],
      s[k].median,
      s[k].mean,
      s[k].std,
      `${Math.min(...times[k]).toFixed(0)}–${Math.max(...times[k]).toFixed(0)}`,
      memory[k],
    ]),
  )}`,
);
const ratios = times.sd.map((v, i) => v / times.tiny[i]);
console.log(
  `\nper-round ratio SD / TAESD: median ${stats(ratios).median.toFixed(1)}x (${Math.min(...ratios).toFixed(1)}x–${Math.max(...ratios).toFixed(1)}x)`,
);
