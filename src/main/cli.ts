import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { moveDatabaseAside } from './store/database';
import { OPTIMIZE_RECIPES } from './optimize/recipes';
import cliProgress from 'cli-progress';
import type { EventPayload, MethodName, MethodOutput } from '../shared/api';
import { EXECUTION_PROVIDERS, SCHEDULER_NAMES } from '../shared/schemas';
import { isLoraId } from '../shared/lora-schemas';
import { createStudio, type Studio } from './services/studio';
import { dispatch, errorPayload } from './services/dispatch';
import { StudioError } from '../shared/errors';
import { adherenceText } from './bench/judge';
import { studioHome } from './paths';
import { downloadFromCli, formatBytes } from './hub/download-cli';
import { FAMILY_OPTIONS, inspectCheckpoint, type FamilyOption } from './checkpoint/inspect';

/** `npm run cli -- <command>`: the third adapter over the same services. */

/**
 * `--lora FILE[:scale]`, repeatable. The scale is split off only when what follows the last colon
 * is a number, so Windows paths (`C:\\loras\\x.safetensors`) keep their drive letter.
 */
function collectLora(
  value: string,
  previous: { path: string; scale: number }[],
): { path: string; scale: number }[] {
  // A LoRA id from listLoras (`lora:bundled/<file>`) is resolved by the studio, not the cwd.
  const path = (p: string): string => (isLoraId(p) ? p : resolve(p));
  const at = value.lastIndexOf(':');
  const tail = at > 0 ? value.slice(at + 1) : '';
  if (at > 0 && tail.trim() !== '' && Number.isFinite(Number(tail)))
    return [...previous, { path: path(value.slice(0, at)), scale: Number(tail) }];
  if (at > 0 && /^[-+.\d]/.test(tail) && !/[\\/]/.test(tail))
    throw new InvalidArgumentError(`--lora ${value}: the scale after ":" must be a number`);
  return [...previous, { path: path(value), scale: 1 }];
}

const num =
  (label: string) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n))
      throw new InvalidArgumentError(`${label} must be a number`);
    return n;
  };

interface CommonOptions {
  json?: boolean;
}

async function withStudio<T>(fn: (studio: Studio) => Promise<T>): Promise<T> {
  const studio = createStudio({ home: studioHome() });
  try {
    return await fn(studio);
  } finally {
    await studio.close();
  }
}

function call<M extends MethodName>(
  studio: Studio,
  method: M,
  input: unknown,
): Promise<MethodOutput<M>> {
  return dispatch(studio.handlers, method, input);
}

/** The exit status of a command stopped by Ctrl+C (128 + SIGINT), as shells report it. */
export const EXIT_CANCELLED = 130;

/**
 * Runs a job that Ctrl+C cancels: the first SIGINT asks the studio to cancel it (again every
 * 100 ms until the job is there to take it, e.g. while it still starts); the service records the run
 * as `cancelled` and the call rejects with the code `cancelled`, which `runCli` turns into exit
 * status 130 and one line on stderr. A second Ctrl+C exits at once (the run is then found
 * `interrupted` by the next start). The workers ignore the terminal's SIGINT while their parent
 * lives (parent-channel.ts), so the cancel, not the signal, ends the job.
 */
async function cancelOnCtrlC<T>(
  cancel: () => Promise<{ cancelled: boolean }>,
  work: () => Promise<T>,
): Promise<T> {
  let settled = false;
  let asked = false;
  let retry: NodeJS.Timeout | undefined;
  const ask = (): void => {
    if (settled) return;
    cancel().then(
      (r) => {
        if (!r.cancelled && !settled) retry = setTimeout(ask, 100);
      },
      () => undefined,
    );
  };
  const onSigint = (): void => {
    if (asked) {
      process.stderr.write('stopped at once (a second Ctrl+C): the run is left unfinished\n');
      process.exit(EXIT_CANCELLED);
    }
    asked = true;
    ask();
  };
  process.on('SIGINT', onSigint);
  try {
    return await work();
  } finally {
    settled = true;
    clearTimeout(retry);
    process.off('SIGINT', onSigint);
  }
}

/** A progress bar on stderr, only when a person watches a terminal and no JSON is asked for. */
function progressBar(format: string, json: boolean): cliProgress.SingleBar | undefined {
  if (!process.stderr.isTTY || json) return undefined;
  return new cliProgress.SingleBar(
    { stream: process.stderr, format },
    cliProgress.Presets.shades_classic,
  );
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function buildCli(): Command {
  const program = new Command('latent-studio')
    .description('Latent Studio: Stable Diffusion on ONNX Runtime, measured.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('hardware')
    .description('CPU, memory, GPUs and the ONNX Runtime execution providers that work here')
    .option('--refresh', 'probe the execution providers again')
    .option('--json', 'print one JSON object')
    .action(async (opts: CommonOptions & { refresh?: boolean }) => {
      const hw = await withStudio((s) =>
        call(s, 'getHardware', { refresh: opts.refresh ?? false }),
      );
      if (opts.json) return printJson(hw);
      console.log(
        `CPU      ${hw.cpu.brand} (${hw.cpu.physicalCores} cores, ${hw.cpu.cores} threads) ${hw.cpu.flags.join(' ')}`,
      );
      console.log(
        `Memory   ${(hw.memory.totalMb / 1024).toFixed(1)} GiB (${(hw.memory.availableMb / 1024).toFixed(1)} GiB available)`,
      );
      for (const g of hw.gpus)
        console.log(`GPU      ${g.vendor} ${g.model}${g.vramMb ? ` ${g.vramMb} MiB` : ''}`);
      if (hw.gpus.length === 0) console.log('GPU      none found');
      console.log(`OS       ${hw.os.distro} ${hw.os.release} (${hw.os.platform}/${hw.os.arch})`);
      console.log(`ORT      onnxruntime-node ${hw.ortVersion}`);
      for (const p of hw.providers)
        console.log(`  ${p.works ? 'ok  ' : 'no  '} ${p.name}${p.error ? ` — ${p.error}` : ''}`);
      console.log(`Class    ${hw.hardwareClass}`);
    });

  program
    .command('models')
    .description(
      'the models the studio knows: bundled, registered, downloaded, found in the Hugging Face cache, optimized',
    )
    .option('--add <dir>', 'register an ONNX Stable Diffusion folder by path (nothing is copied)')
    .option('--name <name>', 'the name for --add (default: the folder name)')
    .option('--remove <name>', 'forget a registered model (its files stay)')
    .option(
      '--download <repo>',
      'download owner/name[@revision] from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE) and register it',
    )
    .option('--revision <rev>', 'branch, tag or commit for --download (default: main)')
    .option('--subfolder <dir>', 'the repo folder holding the ONNX pipeline, e.g. onnx')
    .option(
      '--plan',
      'with --download: list what would be fetched, its size and fit; fetch nothing',
    )
    .option('--delete <name>', 'delete a downloaded model or an optimized variant (its files)')
    .option('--fit <name>', 'will this model fit in RAM / GPU memory here?')
    .option('--catalogue', 'well-known ONNX exports on the Hub')
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: CommonOptions & {
          add?: string;
          name?: string;
          remove?: string;
          download?: string;
          revision?: string;
          subfolder?: string;
          plan?: boolean;
          delete?: string;
          fit?: string;
          catalogue?: boolean;
        },
      ) => {
        if (opts.download) {
          const download = opts.download;
          const out = await withStudio((s) =>
            downloadFromCli(
              s,
              { repo: download, revision: opts.revision, subfolder: opts.subfolder },
              { json: Boolean(opts.json), planOnly: Boolean(opts.plan) },
            ),
          );
          if (opts.json) return printJson(out);
          if (out.result) {
            console.log(
              `${out.result.name} (${out.result.family}) is ready: fetched ${formatBytes(out.result.downloadedBytes)}, reused ${formatBytes(out.result.reusedBytes)}; ${out.result.path}`,
            );
            console.log(`generate with: generate --model ${out.result.name} --prompt "..."`);
          }
          return;
        }
        if (opts.catalogue) {
          const catalogue = await withStudio((s) => call(s, 'getCatalogue', {}));
          if (opts.json) return printJson(catalogue);
          for (const e of catalogue.entries) {
            console.log(
              `${e.repo.padEnd(44)} ${e.family.padEnd(9)} ~${formatBytes(e.sizeBytes).padStart(9)}  ${e.steps} steps, guidance ${e.guidance}${e.gated ? ', gated' : ''}  ${e.licence}`,
            );
          }
          console.log('(not verified from here: each repo is checked when it is downloaded)');
          return;
        }
        if (opts.fit) {
          const fit = await withStudio((s) => call(s, 'checkFit', { model: opts.fit }));
          if (opts.json) return printJson(fit);
          console.log(`${fit.verdict} (${fit.ep}): ${fit.explanation}`);
          for (const r of fit.recipes)
            console.log(`  ${r.recipe}: ~${formatBytes(r.estimatedBytes)} -> ${r.verdict}`);
          return;
        }
        const models = await withStudio(async (s) => {
          if (opts.add) await call(s, 'registerModel', { path: opts.add, name: opts.name });
          if (opts.remove) {
            const r = await call(s, 'unregisterModel', { name: opts.remove });
            if (!r.removed) throw new Error(`no registered model named "${opts.remove}"`);
          }
          if (opts.delete) {
            const r = await call(s, 'deleteModel', { name: opts.delete });
            if (!opts.json)
              console.log(`deleted ${opts.delete}: ${formatBytes(r.freedBytes)} freed`);
          }
          return call(s, 'listModels', {});
        });
        if (opts.json) return printJson({ models });
        for (const m of models) {
          console.log(
            `${m.name.padEnd(24)} ${m.family.padEnd(9)} ${m.source.padEnd(10)} ${(m.sizeBytes / 2 ** 20).toFixed(1).padStart(8)} MiB  ${m.path}`,
          );
        }
      },
    );

  program
    .command('generate')
    .description('text to image')
    .option('--model <dir|name>', 'model folder or known model name', 'tiny-shapes')
    .option('--prompt <text>', 'what to draw (empty: unconditional)', '')
    .option('--negative <text>', 'what not to draw', '')
    .option('--steps <n>', 'denoising steps (default: the model family default)', num('--steps'))
    .option('--guidance <g>', 'classifier-free guidance scale (0 turns it off)', num('--guidance'))
    .option('--seed <s>', 'seed 0..4294967295 (default: random, printed)', num('--seed'))
    .addOption(new Option('--scheduler <name>', 'sampler').choices(SCHEDULER_NAMES))
    .option('--width <w>', 'image width, a multiple of 8', num('--width'))
    .option('--height <h>', 'image height, a multiple of 8', num('--height'))
    .option('--batch <b>', 'images per prompt', num('--batch'), 1)
    .addOption(
      new Option(
        '--ep <provider>',
        "execution provider (default: the saved profile's, else the best that works here)",
      ).choices(EXECUTION_PROVIDERS),
    )
    .option('--threads <n>', 'intra-op threads (0: automatic)', num('--threads'))
    .option('--profile <name>', 'a saved optimization profile')
    .option(
      '--recipe <name[+name...]>',
      'apply a catalogue recipe or a stack of them directly, e.g. feature-cache-3+cfg-truncate (its variant is built on first use)',
    )
    .option(
      '--lora <file[:scale]>',
      'merge a LoRA (.safetensors, kohya or diffusers/PEFT keys) at a scale (default 1); repeatable',
      collectLora,
      [],
    )
    .requiredOption('--out <file.png>', 'where to write the image (batch > 1 adds -1, -2, ...)')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: Record<string, unknown> & CommonOptions & { out: string }) => {
      const out = resolve(opts.out);
      const result = await withStudio(async (studio) => {
        const bar = progressBar(
          'generating [{bar}] {value}/{total} steps {stage}',
          Boolean(opts.json),
        );
        const stop = studio.events.subscribe((event, payload) => {
          if (!bar || event !== 'generateProgress') return;
          const p = payload as EventPayload<'generateProgress'>;
          // A LoRA merge (first use) counts in percent, then the bar restarts for the steps.
          if (p.step === 0 && (p.stage === 'load' || p.stage === 'merge'))
            bar.start(p.totalSteps, 0, { stage: p.stage });
          bar.update(p.step, { stage: p.stage === 'merge' ? 'merging LoRA (%)' : p.stage });
        });
        const jobId = `cli-${randomUUID()}`;
        try {
          return await cancelOnCtrlC(
            () => call(studio, 'cancelGenerate', { jobId }),
            () =>
              call(studio, 'generate', {
                jobId,
                model: opts.model,
                prompt: opts.prompt,
                negativePrompt: opts.negative,
                steps: opts.steps,
                guidance: opts.guidance,
                seed: opts.seed,
                scheduler: opts.scheduler,
                width: opts.width,
                height: opts.height,
                batch: opts.batch,
                ep: opts.ep,
                threads: opts.threads,
                profile: opts.profile,
                recipe: opts.recipe,
                loras: (opts.lora as { path: string; scale: number }[]).length
                  ? (opts.lora as { path: string; scale: number }[])
                  : undefined,
              }),
          );
        } finally {
          stop();
          bar?.stop();
        }
      });
      const written = result.images.map((image, i) => {
        const target = i === 0 ? out : out.replace(/(\.png)?$/i, `-${i}.png`);
        copyFileSync(image.path, target);
        return target;
      });
      const summary = {
        image: written[0],
        images: written,
        seed: result.seed,
        steps: result.steps,
        guidance: result.guidance,
        scheduler: result.scheduler,
        runId: result.runId,
        timings: result.timings,
        warnings: result.warnings,
      };
      for (const w of result.warnings) console.error(`warning: ${w}`);
      if (opts.json) return printJson(summary);
      console.log(
        `${written.join(', ')}  seed ${result.seed}  ${result.timings.total.toFixed(0)} ms`,
      );
    });

  program
    .command('bench')
    .description(
      "measure recipes against the baseline on a fixed prompt set (no --recipes: the wizard's candidates)",
    )
    .option('--model <dir|name>', 'model folder or known model name', 'tiny-shapes')
    .option(
      '--recipes <a,b,c>',
      'comma-separated recipe names (the baseline is always added, first)',
    )
    .option(
      '--cases <default|shapes|file.json>',
      'test set: default (classic five prompts), shapes, or a JSON file',
      'auto',
    )
    .option('--repeats <n>', 'measured runs per case', num('--repeats'), 3)
    .option('--warmup <n>', 'warm-up runs per recipe (not counted)', num('--warmup'), 1)
    .option('--max-cases <n>', 'only the first n cases of the set', num('--max-cases'))
    .addOption(
      new Option('--priority <p>', 'what matters, for the wizard')
        .choices(['quality', 'balance', 'speed'])
        .default('balance'),
    )
    .addOption(
      new Option('--objective <o>', 'latency or throughput, for the wizard')
        .choices(['latency', 'throughput'])
        .default('latency'),
    )
    .addOption(
      new Option(
        '--ep <provider>',
        "execution provider (default: the saved profile's, else the best that works here)",
      ).choices(EXECUTION_PROVIDERS),
    )
    .addOption(
      new Option(
        '--settings <from>',
        "model: every prompt at the model's default steps and guidance (what generate uses); cases: each prompt's own",
      )
        .choices(['model', 'cases'])
        .default('model'),
    )
    .option('--no-stack', 'do not compose the passing strategies into stacked tiers')
    .option(
      '--no-interleave',
      'measure each candidate alone instead of alternating it with baseline runs',
    )
    .option(
      '--profile-ops',
      'profile one extra run per recipe with ORT and report the top operators',
    )
    .option(
      '--save-profile [recipe]',
      "save the recommended recipe (or the one named) as the model's default profile (used by generate)",
    )
    .option(
      '--acknowledge-quality',
      'with --save-profile: save the named recipe even though its images failed the quality check (e.g. a distilled recipe that draws the prompts with different pixels)',
    )
    .option(
      '--budget <minutes>',
      'how long the run may take: the plan is fitted to it on this model and machine (default 15)',
      num('--budget'),
      15,
    )
    .option('--plan-only', 'calibrate, print the plan and its predicted time, and measure nothing')
    .option('--json', 'print one JSON object as the last line')
    .action(async (opts: CommonOptions & Record<string, unknown>) => {
      // Checked before a run of minutes, not after it.
      if (opts.acknowledgeQuality && typeof opts.saveProfile !== 'string')
        throw new Error(
          '--acknowledge-quality: name the recipe to save with it, e.g. --save-profile lcm-lora --acknowledge-quality',
        );
      const request = {
        model: opts.model,
        recipes:
          typeof opts.recipes === 'string'
            ? opts.recipes
                .split(',')
                .map((x) => x.trim())
                .filter(Boolean)
            : undefined,
        cases: opts.cases,
        repeats: opts.repeats,
        warmup: opts.warmup,
        maxCases: opts.maxCases,
        profileOps: Boolean(opts.profileOps),
        priority: opts.priority,
        objective: opts.objective,
        settings: opts.settings,
        stack: opts.stack !== false,
        interleave: opts.interleave !== false,
        ep: opts.ep,
        budgetMinutes: opts.budget,
      };
      if (opts.planOnly) {
        const jobId = `cli-${randomUUID()}`;
        const planned = await withStudio((studio) =>
          cancelOnCtrlC(
            () => call(studio, 'cancelBenchmark', { jobId }),
            () => call(studio, 'planBenchmark', { ...request, jobId }),
          ),
        );
        if (opts.json) return printJson(planned);
        printPlan(planned.plan);
        return;
      }
      const result = await withStudio(async (studio) => {
        const bar = progressBar(
          'benchmark [{bar}] {value}/{total} cases  {recipe} {phase}',
          Boolean(opts.json),
        );
        let started = false;
        const stop = studio.events.subscribe((event, payload) => {
          if (event !== 'benchProgress') return;
          const p = payload as EventPayload<'benchProgress'>;
          const line = `${p.recipe} (${p.recipeIndex + 1}/${p.recipeCount}) case ${p.caseIndex + 1}/${p.caseCount} ${p.phase}`;
          if (!bar) {
            if (!opts.json) console.error(line);
            return;
          }
          if (!started) {
            bar.start(p.recipeCount * p.caseCount, 0, { recipe: p.recipe, phase: p.phase });
            started = true;
          }
          bar.update(p.recipeIndex * p.caseCount + p.caseIndex + (p.phase === 'done' ? 1 : 0), {
            recipe: p.recipe,
            phase: p.phase,
          });
        });
        try {
          const jobId = `cli-${randomUUID()}`;
          const r = await cancelOnCtrlC(
            () => call(studio, 'cancelBenchmark', { jobId }),
            () => call(studio, 'runBenchmark', { ...request, jobId }),
          );
          // `--save-profile NAME` saves that recipe (refused when its quality failed, unless
          // --acknowledge-quality); a bare `--save-profile` saves the recommendation, if any.
          const named = typeof opts.saveProfile === 'string' ? opts.saveProfile : undefined;
          const profile =
            opts.saveProfile && (named ?? r.recommended)
              ? await call(studio, 'saveProfile', {
                  runId: r.runId,
                  ...(named ? { recipe: named } : {}),
                  acknowledgeQuality: opts.acknowledgeQuality === true,
                })
              : undefined;
          return { ...r, profile: profile?.name ?? null };
        } finally {
          stop();
          bar?.stop();
        }
      });
      if (opts.json) return printJson(result);
      console.log(
        `run #${result.runId}  ${result.model}  test set ${result.testSet}${result.settings === 'model' ? " at the model's default steps" : ''}  on ${result.ep ?? 'cpu'}`,
      );
      for (const r of result.recipes) {
        const l = r.latencyMs
          ? `${r.latencyMs.mean.toFixed(0).padStart(7)} ms ±${r.latencyMs.std.toFixed(0)}`
          : '      -      ';
        const q =
          r.ssim !== null ? `SSIM ${r.ssim.toFixed(3)} PSNR ${(r.psnr ?? 0).toFixed(1)}` : '';
        // Images that drew every check the prompt asks, of the cases the vocabulary understands.
        const a = r.adherence ? `  prompt ${adherenceText(r.adherence)}` : '';
        const sp =
          r.speedup !== null
            ? `${r.speedup.toFixed(2)}x${r.speedupCi ? ` [${r.speedupCi[0].toFixed(2)}-${r.speedupCi[1].toFixed(2)}]` : ''}`
            : '';
        console.log(
          `  ${r.name.padEnd(18)} ${r.status.padEnd(7)} ${l} ${sp.padStart(18)}  ${String(r.peakRssMb?.toFixed(0) ?? '-').padStart(5)} MB  load ${r.loadMs?.toFixed(0) ?? '-'}${r.restartLoadMs !== undefined ? `/${r.restartLoadMs.toFixed(0)}` : ''} ms  ${q}${a}  ${r.verdict}${r.error ? `  (${r.error})` : ''}`,
        );
        for (const c of r.contributions ?? [])
          console.log(
            `      ${c.recipe.padEnd(18)} alone ${c.speedupAlone?.toFixed(2) ?? '-'}x, ${c.share !== null ? `${(c.share * 100).toFixed(0)}%` : '-'} of the stack's speed-up`,
          );
      }
      for (const r of result.recipes.filter((x) => x.topOps?.length)) {
        console.log(`\n  top operators, ${r.name}:`);
        for (const op of r.topOps?.slice(0, 6) ?? []) {
          console.log(
            `    ${op.component.padEnd(14)} ${op.opType.padEnd(22)} x${String(op.count).padEnd(6)} ${op.totalMs.toFixed(1).padStart(8)} ms ${op.percent.toFixed(1).padStart(5)}% of the component`,
          );
        }
        console.log(
          `    traces: ${r.topOps?.[0]?.traceFile ?? '-'} (chrome://tracing or Perfetto)`,
        );
      }
      for (const s of result.skipped) console.log(`  ${s.recipe.padEnd(18)} skipped  ${s.reason}`);
      if (result.budgetSeconds !== undefined)
        console.log(
          `\ntime: ${minutes(result.elapsedSeconds ?? 0)} of a ${minutes(result.budgetSeconds)} budget (predicted ${minutes(result.predictedSeconds ?? 0)})`,
        );
      console.log(`\n${result.explanation}`);
      if (result.profile) console.log(`saved as the default profile "${result.profile}"`);
    });

  const minutes = (seconds: number): string => `${(seconds / 60).toFixed(1)} min`;
  const printPlan = (plan: MethodOutput<'planBenchmark'>['plan']): void => {
    const c = plan.calibration;
    console.log(
      `calibration: load ${(c.loadMs / 1000).toFixed(1)} s, text encoder ${c.textEncoderMs.toFixed(0)} ms, UNet step ${c.unetStepMs.toFixed(0)} ms (first ${c.firstStepMs.toFixed(0)}), VAE ${c.vaeMs.toFixed(0)} ms; images at ${c.steps} steps`,
    );
    console.log(
      `plan: ${plan.candidates.join(', ')} x ${plan.cases} cases x ${plan.repeats} repeats (warm-up ${plan.warmup})`,
    );
    for (const p of plan.phases)
      console.log(`  ${p.name.padEnd(11)} ${minutes(p.predictedSeconds)}`);
    console.log(
      `predicted ${minutes(plan.predictedSeconds)} of a ${minutes(plan.budgetSeconds)} budget (the untrimmed plan: ${minutes(plan.untrimmedSeconds)})`,
    );
    for (const d of plan.dropped) console.log(`  ${d.recipe.padEnd(18)} left out  ${d.reason}`);
  };

  program
    .command('compare')
    .description('compare two benchmark runs recipe by recipe')
    .argument('<runA>', 'earlier run id', num('runA'))
    .argument('<runB>', 'later run id', num('runB'))
    .option('--svg <file.svg>', 'also write a bar chart of latency per recipe')
    .option('--json', 'print one JSON object')
    .action(async (runA: number, runB: number, opts: CommonOptions & { svg?: string }) => {
      const [c, chart] = await withStudio(
        async (s) =>
          [
            await call(s, 'compareRuns', { runA, runB }),
            opts.svg ? await call(s, 'exportComparison', { runA, runB }) : undefined,
          ] as const,
      );
      if (opts.svg && chart) writeFileSync(resolve(opts.svg), chart.content);
      if (opts.json) return printJson(c);
      console.log(`run #${runA} -> run #${runB} (speedup > 1: #${runB} is faster)`);
      for (const r of c.recipes) {
        const f = (v: number | null, d = 0) => (v === null ? '-' : v.toFixed(d));
        console.log(
          `  ${r.name.padEnd(18)} ${f(r.latencyA).padStart(7)} ms -> ${f(r.latencyB).padStart(7)} ms  ${f(r.speedup, 2)}x  memory ${f(r.memoryDeltaMb)} MB  SSIM ${f(r.ssimA, 3)} -> ${f(r.ssimB, 3)}`,
        );
      }
    });

  program
    .command('optimize')
    .description(
      'write an optimized copy of a model folder (the source is never changed); each component is checked against the source before it is kept',
    )
    .option('--model <dir|name>', 'model folder or known model name', 'tiny-shapes')
    .requiredOption(
      '--recipe <name>',
      `what to apply: ${OPTIMIZE_RECIPES.map((r) => r.name).join(', ')}`,
    )
    .option(
      '--out <dir>',
      'a new folder for the optimized model (default: the variant store, <home>/models/<model>--<recipe>)',
    )
    .option('--force', 'replace --out if it exists')
    .option(
      '--lora <file[:scale]>',
      'merge a LoRA first (recipe lora: only that); repeatable',
      collectLora,
      [],
    )
    .option('--json', 'print one JSON object as the last line')
    .action(
      async (
        opts: CommonOptions & {
          model: string;
          recipe: string;
          out?: string;
          force?: boolean;
          lora: { path: string; scale: number }[];
        },
      ) => {
        if (!opts.json) console.error(`optimizing ${opts.model} with ${opts.recipe}...`);
        const result = await withStudio(async (studio) => {
          const bar = progressBar('optimizing [{bar}] {percentage}% {message}', Boolean(opts.json));
          bar?.start(100, 0, { message: '' });
          const stop = studio.events.subscribe((event, payload) => {
            if (!bar || event !== 'optimizeProgress') return;
            const p = payload as EventPayload<'optimizeProgress'>;
            bar.update(Math.round(p.fraction * 100), { message: p.message });
          });
          try {
            return await call(studio, 'optimizeModel', {
              model: opts.model,
              recipe: opts.recipe,
              out: opts.out,
              force: Boolean(opts.force),
              loras: opts.lora.length ? opts.lora : undefined,
            });
          } finally {
            stop();
            bar?.stop();
          }
        });
        if (opts.json) return printJson(result);
        const mb = (b: number) => (b / 1e6).toFixed(1);
        for (const c of result.summary) {
          if (c.transforms.length === 0) {
            console.log(`  ${c.component.padEnd(15)} copied unchanged`);
            continue;
          }
          console.log(
            `  ${c.component.padEnd(15)} ${c.transforms.join('+').padEnd(28)} ${String(c.changed).padStart(4)} nodes  ${mb(c.bytesBefore)} -> ${mb(c.bytesAfter)} MB  cosine ${c.cosine?.toFixed(5) ?? '-'}`,
          );
        }
        console.log(
          `wrote ${result.outDir} in ${(result.transformMs / 1000).toFixed(1)} s; benchmark it with: bench --model ${result.outDir}`,
        );
      },
    );

  program
    .command('import')
    .description(
      'inspect a .safetensors checkpoint (LDM single file) or a diffusers folder: family and why, components, dtypes, prediction',
    )
    .argument('<source>', 'FILE.safetensors or a diffusers folder')
    .option('--inspect', 'read the header(s) only and print what the checkpoint holds')
    .addOption(
      new Option(
        '--family <f>',
        'the family, if you know it; it must agree with the weights',
      ).choices(FAMILY_OPTIONS),
    )
    .option('--name <name>', 'the model name (for the conversion, not built yet)')
    .option('--fp16-storage', 'keep fp16 weights (for the conversion, not built yet)')
    .option('--json', 'print one JSON object')
    .action(
      (source: string, opts: CommonOptions & { inspect?: boolean; family?: FamilyOption }) => {
        if (!opts.inspect) {
          throw new StudioError(
            'import: converting checkpoints to ONNX is not built yet; --inspect shows what the file holds',
            'unavailable',
          );
        }
        const r = inspectCheckpoint(source, { family: opts.family });
        if (opts.json) return printJson(r);
        const millions = (n: number) => `${(n / 1e6).toFixed(1)}M`;
        console.log(`${r.path} (${r.layout}, ${formatBytes(r.bytes)})`);
        console.log(
          `family      ${r.family}   context ${r.contextDim}, UNet in-channels ${r.unetInChannels}`,
        );
        for (const w of r.why) console.log(`  because   ${w}`);
        console.log(`prediction  ${r.prediction} (${r.predictionSource})`);
        console.log(`EMA         ${r.ema}`);
        console.log(
          `dtypes      ${Object.entries(r.dtypes)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')} (storage ${r.storage})`,
        );
        for (const c of r.components) {
          console.log(
            `  ${c.name.padEnd(15)} ${c.kind.padEnd(18)} ${String(c.tensors).padStart(5)} tensors ${millions(c.parameters).padStart(9)} params  ${c.source}`,
          );
        }
        if (r.missing.length > 0) console.log(`missing     ${r.missing.join(', ')}`);
        console.log(`inspected the header(s) in ${r.inspectMs} ms`);
      },
    );

  program
    .command('repair-db')
    .description(
      'move a damaged studio database aside (it is renamed, never deleted) so a new one starts',
    )
    .action(() => {
      const file = join(studioHome(), 'studio.db');
      if (!existsSync(file)) return console.log(`no database at ${file}; nothing to do`);
      console.log(
        `moved ${file} to ${moveDatabaseAside(file)}; the next start creates a new database`,
      );
    });

  program
    .command('export')
    .description('write a benchmark run as JSON or CSV')
    .argument('<run>', 'run id', num('run'))
    .addOption(new Option('--format <f>', 'file format').choices(['json', 'csv']).default('json'))
    .option('--out <file>', 'where to write it (default: stdout)')
    .action(async (runId: number, opts: { format: 'json' | 'csv'; out?: string }) => {
      const file = await withStudio((s) => call(s, 'exportRun', { runId, format: opts.format }));
      if (opts.out) writeFileSync(resolve(opts.out), file.content);
      else process.stdout.write(file.content);
    });

  program
    .command('history')
    .description('past runs, newest first; with --recipe, that recipe over time on one model')
    .option('--limit <n>', 'how many', num('--limit'), 50)
    .option('--recipe <name>', "show one recipe's trend instead")
    .option('--model <dir|name>', 'the model for --recipe', 'tiny-shapes')
    .option(
      '--delete <runId>',
      'delete a finished run, its figures and its images',
      num('--delete'),
    )
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: CommonOptions & { limit: number; recipe?: string; model: string; delete?: number },
      ) => {
        if (opts.delete !== undefined) {
          const runId = opts.delete;
          const result = await withStudio((s) => call(s, 'deleteRun', { runId }));
          if (!result.deleted)
            throw new Error(`run ${runId} does not exist; see history for run ids`);
          if (opts.json) return printJson({ runId, ...result });
          console.log(`deleted run #${runId} and ${result.imagesRemoved} image file(s)`);
          return;
        }
        if (opts.recipe) {
          const recipe = opts.recipe;
          const trend = await withStudio((s) => call(s, 'getTrend', { model: opts.model, recipe }));
          if (opts.json) return printJson({ recipe, model: opts.model, trend });
          for (const t of trend) {
            console.log(
              `#${String(t.runId).padEnd(5)} ${t.startedAt}  ${t.latencyMean.toFixed(1).padStart(8)} ms  SSIM ${t.ssim?.toFixed(3) ?? '-'}`,
            );
          }
          return;
        }
        const runs = await withStudio((s) => call(s, 'getHistory', { limit: opts.limit }));
        if (opts.json) return printJson({ runs });
        for (const r of runs) {
          console.log(
            `#${String(r.id).padEnd(5)} ${r.kind.padEnd(9)} ${r.status.padEnd(12)} ${r.startedAt}  ${r.model}  ${r.summary}${r.error ? `  (${r.error})` : ''}`,
          );
        }
      },
    );

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildCli();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the message and the usage help.
      return error.exitCode === 0 ? 0 : 2;
    }
    // One line on stderr (the contract); engine errors can carry a stderr tail after a newline.
    const line = errorPayload(error).error.split('\n')[0];
    // Cancelled (Ctrl+C): the run is recorded so, and the exit status is a shell's for SIGINT.
    if (error instanceof StudioError && error.code === 'cancelled') {
      console.error(`cancelled: ${line}`);
      return EXIT_CANCELLED;
    }
    console.error(`error: ${line}`);
    return 1;
  }
}

const isEntry = process.argv[1] && /cli\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
