import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MethodOutput, ParsedInput } from '../../shared/api';
import { StudioError } from '../../shared/errors';
import { EngineClient } from '../engine/engine-client';
import type { ModelRegistry } from '../models/model-registry';
import type { RunsRepo } from '../store/runs-repo';
import type { BenchRepo } from '../store/bench-repo';
import { RecipeSchema, recipeRunConfig, recipeSteps } from '../bench/recipes';
import { variantDir } from '../bench/variants';
import { FAMILY_DEFAULTS } from '../models/family-defaults';
import { detectFamily } from '../models/model-folder';
import type { HardwareService } from '../hardware/hardware-service';
import type { StudioEvents } from './studio';
import { appVersion, ortVersion } from '../versions';

const pngDataUrl = (png: Uint8Array): string =>
  `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

/** Text-to-image: records the run, drives the engine process, stores the images. */
export class GenerateService {
  readonly engine = new EngineClient();

  constructor(
    private readonly deps: {
      home: string;
      runs: RunsRepo;
      models: ModelRegistry;
      bench: BenchRepo;
      hardware: HardwareService;
      events: StudioEvents;
    },
  ) {}

  async generate(input: ParsedInput<'generate'>): Promise<MethodOutput<'generate'>> {
    const { runs, models, events, home } = this.deps;
    const model = models.resolve(input.model);
    const profile = await this.profileFor(model.name, model.dir, input.profile);
    const jobId = input.jobId ?? randomUUID();
    const seed = input.seed ?? randomBytes(4).readUInt32LE(0);
    const runId = runs.start({
      kind: 'generate',
      model: model.name,
      summary: input.prompt === '' ? '(unconditional)' : input.prompt.slice(0, 200),
      params: { ...input, seed },
      appVersion: appVersion(),
      ortVersion: ortVersion(),
    });
    try {
      const result = await this.engine.run(
        jobId,
        {
          modelDir: profile?.modelDir ?? model.dir,
          prompt: input.prompt,
          negativePrompt: input.negativePrompt,
          steps: input.steps ?? profile?.steps,
          guidance: input.guidance ?? profile?.guidance,
          seed,
          scheduler: input.scheduler ?? profile?.scheduler,
          adaptiveSteps: input.steps === undefined ? profile?.adaptiveSteps : undefined,
          schedulerOverrides:
            input.scheduler === undefined ? profile?.schedulerOverrides : undefined,
          runConfig: profile?.runConfig,
          width: input.width,
          height: input.height,
          batch: input.batch,
          ep: input.ep,
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
      const images = result.images.map((image, i) => {
        const path = join(home, 'images', `run-${runId}-${i}.png`);
        writeFileSync(path, image.png);
        return { path, width: image.width, height: image.height, dataUrl: pngDataUrl(image.png) };
      });
      if (profile)
        result.warnings.push(`profile "${profile.name}" applied (recipe ${profile.recipe})`);
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
      runs.fail(runId, message);
      if (error instanceof StudioError) throw error;
      throw new StudioError(message, 'failed');
    }
  }

  /**
   * The optimization profile a generation runs with: the one named, else the model's default profile
   * (saved from a benchmark's winner), else none. Explicit generate options always win over it.
   */
  private async profileFor(modelName: string, modelDir: string, name: string | undefined) {
    const stored = name ? this.deps.bench.profile(name) : this.deps.bench.defaultProfile(modelName);
    if (name && !stored)
      throw new StudioError(
        `profile: no profile named "${name}"; save one from a benchmark run first`,
        'not-found',
      );
    if (!stored) return undefined;
    const recipe = RecipeSchema.parse(JSON.parse(stored.recipeJson));
    const family = detectFamily(modelDir);
    const defaultSteps = family === 'unknown' ? 25 : FAMILY_DEFAULTS[family].steps;
    return {
      name: stored.name,
      recipe: recipe.name,
      modelDir: this.profileModelDir(modelDir, recipe.variant, stored.name),
      runConfig: recipeRunConfig(recipe, (await this.deps.hardware.detect()).cpu.physicalCores),
      scheduler: recipe.sampling.scheduler,
      steps:
        recipe.sampling.steps || recipe.sampling.stepsFactor
          ? recipeSteps(recipe, defaultSteps)
          : undefined,
      guidance: recipe.sampling.guidance,
      adaptiveSteps: recipe.sampling.adaptiveSteps,
      schedulerOverrides: recipe.sampling.schedulerOverrides,
    };
  }

  /** A profile whose variant folder has gone falls back to the source model, saying so. */
  private profileModelDir(modelDir: string, variant: string, profile: string): string {
    try {
      return variantDir(modelDir, variant);
    } catch {
      this.pendingWarnings.push(
        `profile "${profile}" needs the ${variant} variant, which is missing; ran the source model`,
      );
      return modelDir;
    }
  }

  private readonly pendingWarnings: string[] = [];

  cancel(jobId: string): boolean {
    return this.engine.cancel(jobId);
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
