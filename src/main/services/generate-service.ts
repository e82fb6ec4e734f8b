import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MethodOutput, ParsedInput } from '../../shared/api';
import { StudioError } from '../../shared/errors';
import { EngineClient } from '../engine/engine-client';
import type { ModelRegistry } from '../models/model-registry';
import type { RunsRepo } from '../store/runs-repo';
import type { BenchRepo } from '../store/bench-repo';
import { recipeRunConfig } from '../bench/recipes';
import { catalogueRecipe } from '../profiles/catalogue-recipe';
import { loraOfVariant, prepareVariant, variantParts } from '../bench/variants';
import { ensureLoraVariant } from '../optimize/variant-store';
import { ensureTinyVaeVariant, tinyVaeRefusal } from '../optimize/tiny-vae';
import { detectFamily } from '../models/model-folder';
import { cardSchedulerOverrides, resolveLoraRefs } from '../optimize/lora-library';
import { describeSchedulerOverrides } from '../../shared/scheduler-overrides';
import { modelDefaults, parseProfile, profileSampling } from '../profiles/profile';
import type { HardwareService } from '../hardware/hardware-service';
import { bestProvider } from '../hardware/best-provider';
import type { EngineLock } from './engine-lock';
import type { StudioEvents } from './studio';
import { appVersion, ortVersion } from '../versions';

const pngDataUrl = (png: Uint8Array): string =>
  `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

/**
 * A generation in flight, for cancel: until the engine has the request a cancel is remembered and
 * stops it before it starts; while the engine runs it, the engine stops it between steps; once the
 * engine has answered there is nothing left to cancel.
 */
interface Job {
  stage: 'preparing' | 'engine' | 'finishing';
  cancelled: boolean;
}

/** Text-to-image: records the run, drives the engine process, stores the images. */
export class GenerateService {
  readonly engine = new EngineClient();
  private readonly jobs = new Map<string, Job>();

  constructor(
    private readonly deps: {
      home: string;
      runs: RunsRepo;
      models: ModelRegistry;
      bench: BenchRepo;
      hardware: HardwareService;
      events: StudioEvents;
      /** Shared with the benchmark: a generation never runs while a benchmark measures. */
      lock: EngineLock;
    },
  ) {}

  async generate(request: ParsedInput<'generate'>): Promise<MethodOutput<'generate'>> {
    const model = this.deps.models.resolve(request.model);
    // LoRA ids from listLoras become files in the studio's LoRA folders before anything runs.
    const input = request.loras
      ? { ...request, loras: resolveLoraRefs(request.loras, this.deps.home) }
      : request;
    const jobId = input.jobId ?? randomUUID();
    const release = this.deps.lock.acquire('generate');
    const job: Job = { stage: 'preparing', cancelled: false };
    this.jobs.set(jobId, job);
    try {
      return await this.generateLocked({ ...input, jobId }, model, job);
    } finally {
      this.jobs.delete(jobId);
      release();
    }
  }

  private async generateLocked(
    input: ParsedInput<'generate'> & { jobId: string },
    model: { name: string; dir: string },
    job: Job,
  ): Promise<MethodOutput<'generate'>> {
    const { runs, events, home } = this.deps;
    // With LoRAs the profile's variant is rebuilt with them merged (loraModelDir), not used alone.
    if (input.profile !== undefined && input.recipe !== undefined)
      throw new StudioError(
        'recipe: give either a saved profile or a recipe, not both (drop --profile or --recipe)',
        'bad-input',
      );
    // What applying the profile, its variant or the LoRAs had to leave out: this request's alone.
    const notes: string[] = [];
    const profile = await this.profileFor(
      model.name,
      model.dir,
      input.profile,
      (input.loras?.length ?? 0) === 0,
      input.recipe,
      notes,
    );
    // The provider: asked for, else the one the profile was measured on, else the best that works.
    const ep =
      input.ep ??
      profile?.ep ??
      bestProvider({ providers: await this.deps.hardware.providerProbes() });
    const jobId = input.jobId;
    const seed = input.seed ?? randomBytes(4).readUInt32LE(0);
    const runId = runs.start({
      kind: 'generate',
      model: model.name,
      summary: input.prompt === '' ? '(unconditional)' : input.prompt.slice(0, 200),
      params: { ...input, seed, ep },
      appVersion: appVersion(),
      ortVersion: ortVersion(),
    });
    try {
      // A profile's scheduler settings belong to the sampling it measured (a distilled
      // student's steps_offset fits its own step count only): another scheduler or step count
      // asked for explicitly runs without them. A LoRA's card brings its own when the run
      // samples as the card says.
      const profileOverrides =
        input.scheduler === undefined && input.steps === undefined
          ? profile?.schedulerOverrides
          : undefined;
      const cardOverrides =
        input.loras?.length === 1
          ? cardSchedulerOverrides(input.loras[0].path, {
              scheduler: input.scheduler,
              steps: input.steps,
            })
          : undefined;
      const modelDir = input.loras?.length
        ? await this.loraModelDir(model.dir, input.loras, profile?.variant, jobId, notes)
        : (profile?.modelDir ?? model.dir);
      // Feature caching runs on the variant's UNet pair: where the variant could not be built (the
      // warning above says why) the source runs every step in full.
      const featureCache =
        profile?.featureCache && existsSync(join(modelDir, 'unet_shallow', 'model.onnx'))
          ? profile.featureCache
          : undefined;
      if (profile?.featureCache && !featureCache)
        notes.push(
          `feature caching off: ${modelDir} has no shallow UNet (the feature-cache variant); every step ran the full UNet`,
        );
      // Cancelled while the LoRA merge or the variant was prepared: the engine never starts it.
      if (job.cancelled) throw new StudioError('generation cancelled', 'cancelled');
      job.stage = 'engine';
      const result = await this.engine.run(
        jobId,
        {
          modelDir,
          prompt: input.prompt,
          negativePrompt: input.negativePrompt,
          steps: input.steps ?? profile?.steps,
          guidance: input.guidance ?? profile?.guidance,
          seed,
          scheduler: input.scheduler ?? profile?.scheduler,
          adaptiveSteps: input.steps === undefined ? profile?.adaptiveSteps : undefined,
          schedulerOverrides: cardOverrides ?? profileOverrides,
          runConfig: profile?.runConfig,
          featureCache,
          // Guidance truncation belongs to the guidance it was measured with.
          guidanceInterval: input.guidance === undefined ? profile?.guidanceInterval : undefined,
          width: input.width,
          height: input.height,
          batch: input.batch,
          ep,
          threads: input.threads,
          previewEvery: 1,
        },
        (p) =>
          events.emit('generateProgress', {
            jobId,
            stage: p.stage,
            step: p.step,
            totalSteps: p.totalSteps,
            previewDataUrl: p.previewPng ? pngDataUrl(p.previewPng) : undefined,
          }),
      );
      job.stage = 'finishing';
      const images = result.images.map((image, i) => {
        const path = join(home, 'images', `run-${runId}-${i}.png`);
        writeFileSync(path, image.png);
        return { path, width: image.width, height: image.height, dataUrl: pngDataUrl(image.png) };
      });
      for (const l of input.loras ?? [])
        result.warnings.push(`LoRA ${l.path} merged at scale ${l.scale}`);
      if (cardOverrides)
        result.warnings.push(
          `the LoRA card's scheduler settings applied (${describeSchedulerOverrides(cardOverrides).join('; ')})`,
        );
      result.warnings.push(...notes);
      if (profile) {
        result.warnings.push(
          profile.name === null
            ? `recipe ${profile.recipe} applied (not measured here: run bench --recipes ${profile.recipe.split('+').join(',')} to measure it)`
            : `profile "${profile.name}" applied (recipe ${profile.recipe}${profile.promise})`,
        );
      }
      const output = {
        jobId,
        runId,
        model: model.name,
        seed: result.seed,
        steps: result.steps,
        guidance: result.guidance,
        scheduler: result.scheduler,
        images,
        timings: result.timings,
        warnings: result.warnings,
      };
      runs.finish(
        runId,
        { ...output, images: images.map((i) => i.path) },
        images.map((i, b) => ({
          path: i.path,
          width: i.width,
          height: i.height,
          seed: (result.seed + b) % 2 ** 32,
        })),
      );
      return output;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // A cancel is an outcome the person chose, not a failure.
      if (error instanceof StudioError && error.code === 'cancelled') runs.cancel(runId, message);
      else runs.fail(runId, message);
      if (error instanceof StudioError) throw error;
      throw new StudioError(message, 'failed');
    }
  }

  /**
   * The optimization profile a generation runs with: the one named, else the model's default profile
   * (saved from a benchmark's winner), else none. Explicit generate options always win over it.
   */
  private async profileFor(
    modelName: string,
    modelDir: string,
    name: string | undefined,
    buildVariant = true,
    recipeName: string | undefined,
    notes: string[],
  ) {
    if (recipeName !== undefined) {
      const recipe = catalogueRecipe(recipeName);
      return {
        name: null,
        recipe: recipe.name,
        promise: '',
        ep: undefined,
        variant: recipe.variant,
        modelDir: buildVariant
          ? await this.profileModelDir(modelDir, recipe.variant, `recipe ${recipe.name}`, notes)
          : modelDir,
        runConfig: recipeRunConfig(recipe, (await this.deps.hardware.detect()).cpu.physicalCores),
        ...profileSampling(recipe, modelDefaults(modelDir).steps),
      };
    }
    const stored = name ? this.deps.bench.profile(name) : this.deps.bench.defaultProfile(modelName);
    if (name && !stored)
      throw new StudioError(
        `profile: no profile named "${name}"; save one from a benchmark run first`,
        'not-found',
      );
    if (!stored) return undefined;
    const { recipe, ep, measured } = parseProfile(stored.recipeJson);
    // What the benchmark printed for it, so the person can hold the profile to it.
    const promise =
      measured?.speedup != null
        ? `, measured ${measured.speedup.toFixed(2)}x${measured.speedupCi ? ` [${measured.speedupCi[0].toFixed(2)}-${measured.speedupCi[1].toFixed(2)}]` : ''} in run #${measured.runId}`
        : '';
    // The same function the benchmark builds its requests with: the recipe's change relative to
    // the model's default steps, so generate applies exactly what was measured.
    const sampling = profileSampling(recipe, modelDefaults(modelDir).steps);
    return {
      name: stored.name,
      recipe: recipe.name,
      promise,
      ep,
      variant: recipe.variant,
      modelDir: buildVariant
        ? await this.profileModelDir(modelDir, recipe.variant, `profile "${stored.name}"`, notes)
        : modelDir,
      runConfig: recipeRunConfig(recipe, (await this.deps.hardware.detect()).cpu.physicalCores),
      ...sampling,
    };
  }

  /**
   * A profile's variant, rebuilt by the optimizer if it is missing or stale; if it cannot be built
   * the source model runs, saying so.
   */
  private async profileModelDir(
    modelDir: string,
    variant: string,
    /** Who asked for it, for the warning: `profile "name"` or `recipe name`. */
    what: string,
    notes: string[],
  ): Promise<string> {
    try {
      return await prepareVariant(modelDir, variant, undefined, this.deps.home);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      notes.push(
        `${what} needs the ${variant} variant, which could not be built (${why}); ran the source model`,
      );
      return modelDir;
    }
  }

  /**
   * The model with the request's LoRAs merged in: a variant built once by the optimizer (in its
   * worker) and cached by model fingerprint, LoRA contents and scales. A profile's optimizer
   * variant is stacked after the merge (the LoRA changes float weights, the recipe then quantizes
   * or fuses them); graph-all, which ONNX Runtime writes itself, cannot take a LoRA and is left out.
   * A profile whose variant is itself a LoRA merge (a distilled student) keeps its LoRA: the
   * student's and the request's LoRAs are merged together, and the profile's sampling still applies.
   */
  private async loraModelDir(
    modelDir: string,
    loras: { path: string; scale: number }[],
    profileVariant: string | undefined,
    jobId: string,
    notes: string[],
  ): Promise<string> {
    const parts = profileVariant !== undefined ? variantParts(profileVariant) : undefined;
    const usable = parts !== undefined && !('refused' in parts) ? parts : undefined;
    if (parts && 'refused' in parts) {
      notes.push(
        `the profile's ${profileVariant} variant cannot be built (${parts.refused}); ran the model with the LoRA merged, without it`,
      );
    }
    const optimize =
      usable?.optimize !== undefined && !usable.optimize.split('+').includes('graph-all')
        ? usable.optimize
        : undefined;
    if (usable?.optimize !== undefined && optimize === undefined) {
      notes.push(
        `the profile's ${usable.optimize} variant cannot take a LoRA (ONNX Runtime writes it itself); ran the model with the LoRA merged, without it`,
      );
    }
    const student =
      usable?.lora !== undefined ? this.profileLora(modelDir, usable.lora) : undefined;
    if (usable?.lora !== undefined && !student) {
      notes.push(
        `the profile's ${usable.lora} LoRA was not found for this model; ran only the requested LoRA`,
      );
    }
    const all = student ? [student, ...loras] : loras;
    // The first generate with a LoRA builds its merged variant (seconds to minutes on a big
    // model): say so with the optimizer's own progress, so the page does not look frozen. A cached
    // variant answers at once and the first engine event follows.
    const merge = (step: number, message: string): void =>
      this.deps.events.emit('generateProgress', {
        jobId,
        stage: 'merge',
        step,
        totalSteps: 100,
        message,
      });
    merge(0, 'looking for the merged LoRA variant…');
    const merged = await ensureLoraVariant(
      this.deps.home,
      modelDir,
      all,
      (p) =>
        merge(
          Math.round(p.fraction * 100),
          `merging LoRA… ${p.message}${p.reason === 'not built yet' ? '' : ` (rebuilt: ${p.reason})`}`,
        ),
      undefined,
      optimize ?? 'lora',
    );
    if (usable?.vae === undefined) return merged;
    // The profile's tiny decoder goes onto the merged model too (the LoRA does not touch the VAE).
    const refused = tinyVaeRefusal(this.deps.home, modelDir);
    if (refused) {
      notes.push(
        `the profile's tiny VAE decoder could not be used (${refused}); ran the model's own decoder`,
      );
      return merged;
    }
    return ensureTinyVaeVariant(this.deps.home, merged, undefined, detectFamily(modelDir));
  }

  /** The LoRA a profile's LoRA variant merges (its card's file and scale); undefined: none found. */
  private profileLora(
    modelDir: string,
    loraVariant: string,
  ): { path: string; scale: number } | undefined {
    const card = loraOfVariant(modelDir, loraVariant, this.deps.home);
    return card ? { path: card.path, scale: card.scale } : undefined;
  }

  /** True when the job exists and will stop (before the engine starts it, or between steps). */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.stage === 'finishing') return false;
    if (job.stage === 'engine') return this.engine.cancel(jobId);
    job.cancelled = true;
    return true;
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
