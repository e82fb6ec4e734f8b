import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { resourcesDir } from '../paths';
import { SchedulerNameSchema, SchedulerOverridesSchema } from '../../shared/schemas';

/**
 * LoRA cards: a small JSON file beside a LoRA saying what it is for and how to sample with it (as a
 * Hub model card does in words). Bundled ones live in `resources/loras/`; a person's own go in
 * `<LATENT_STUDIO_HOME>/loras/`. A bundled card names the one model it was trained on
 * (`baseModel`); a person's card may instead name a family (`sd1`, `sdxl`, …) to offer its LoRA to
 * every model of that family (e.g. the public LCM-LoRA for SD 1.5).
 */
export const LoraCardSchema = z
  .object({
    name: z.string().min(1),
    /**
     * `lcm-lora`: a consistency-distilled few-step student (its own pictures of the prompt);
     * `step-distilled`: a student distilled onto the teacher's own sampling path (the teacher's
     * pictures in fewer steps; see its `teacher`); `style`: anything else.
     */
    kind: z.enum(['lcm-lora', 'step-distilled', 'style']),
    file: z.string().min(1),
    baseModel: z.string().optional(),
    family: z.string().optional(),
    scale: z.number().min(-4).max(4).default(1),
    scheduler: SchedulerNameSchema.optional(),
    steps: z.number().int().min(1).max(50).optional(),
    guidance: z.number().min(0).max(20).optional(),
    /**
     * scheduler_config keys the student was trained with, applied over the model's own: e.g. the
     * DDIM `steps_offset` that starts a step-distilled student at its teacher's first timestep, or
     * `timesteps`, the explicit DDIM grid it was trained on (one per step).
     */
    schedulerOverrides: SchedulerOverridesSchema.optional(),
    /** The sampling a step-distilled student reproduces: the teacher's scheduler, steps, guidance. */
    teacher: z
      .object({
        scheduler: z.string(),
        steps: z.number().int().min(1).max(1000),
        guidance: z.number().min(0).max(20),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((card, ctx) => {
    const timesteps = card.schedulerOverrides?.timesteps;
    if (timesteps === undefined) return;
    const problem = !Array.isArray(timesteps)
      ? 'must be a list of integers'
      : card.scheduler !== 'ddim'
        ? 'is taken by the ddim scheduler only: set "scheduler": "ddim"'
        : timesteps.length !== card.steps
          ? `lists ${timesteps.length} timesteps: set "steps" to ${timesteps.length}`
          : undefined;
    if (problem)
      ctx.addIssue({ code: 'custom', path: ['schedulerOverrides', 'timesteps'], message: problem });
  });
export type LoraCard = z.infer<typeof LoraCardSchema> & { path: string };

function cardsIn(dir: string, userCards: boolean): LoraCard[] {
  if (!existsSync(dir)) return [];
  const cards: LoraCard[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    try {
      const card = LoraCardSchema.parse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      const path = resolve(dir, card.file);
      // Bundled cards are tied to their base model; only a person's own cards may claim a family.
      if (!userCards && !card.baseModel) continue;
      if (existsSync(path)) cards.push({ ...card, path });
    } catch {
      // A broken card is not offered; the LoRA itself can still be used with --lora.
    }
  }
  return cards;
}

/** The card that describes this LoRA file: one in the file's own folder whose `file` names it. */
export function cardForFile(loraPath: string): LoraCard | undefined {
  const path = resolve(loraPath);
  return cardsIn(dirname(path), true).find((c) => c.path === path);
}

/** The LoRA of a kind to propose for a model: one trained on it by name, else one for its family. */
function findCard(
  kind: LoraCard['kind'],
  modelDir: string,
  family: string | undefined,
  home?: string,
): LoraCard | undefined {
  const name = basename(resolve(modelDir)).replace(/--.*$/, '');
  const cards = [
    ...cardsIn(join(resourcesDir(), 'loras'), false),
    ...(home ? cardsIn(join(home, 'loras'), true) : []),
  ].filter((c) => c.kind === kind);
  return (
    cards.find((c) => c.baseModel === name) ??
    cards.find((c) => !c.baseModel && family !== undefined && c.family === family)
  );
}

/** The LCM-LoRA to propose for a model: one trained on it by name, else one for its family. */
export function findLcmLora(
  modelDir: string,
  family: string | undefined,
  home?: string,
): LoraCard | undefined {
  return findCard('lcm-lora', modelDir, family, home);
}

/** The step-distilled LoRA to propose for a model (same lookup as the LCM-LoRA's). */
export function findStepDistilledLora(
  modelDir: string,
  family: string | undefined,
  home?: string,
): LoraCard | undefined {
  return findCard('step-distilled', modelDir, family, home);
}
